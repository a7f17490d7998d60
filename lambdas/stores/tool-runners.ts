import { InvokeCommand, type InvokeCommandOutput, type LambdaClient } from '@aws-sdk/client-lambda';
import type { ToolSpec } from '../domain/policy';
import { classifyHttpStatus, type ToolError, type ToolOutcome, toolCallLimits } from '../domain/tool-call';
import type { ToolRunner } from '../domain/tool-execution';
import { lambdaClient } from './clients';

/**
 * The two kinds of tool behind one interface. Each run is bounded by the tool's timeoutMs and carries
 * the call's idempotency key, so a tool that is retried after an unknown outcome can deduplicate.
 */

/** `http`: POST the arguments as JSON, `Idempotency-Key` header, 2xx body is the result. */
export const httpRunner: ToolRunner = {
  async run(tool, args, { idempotencyKey }) {
    let res: Response;
    let text: string;
    try {
      res = await fetch(tool.url!, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body: JSON.stringify(args),
        signal: AbortSignal.timeout(tool.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      return { kind: 'retryable', error: transportError(err, tool) };
    }
    const body = parseBody(text, res.headers.get('content-type'));
    const kind = classifyHttpStatus(res.status);
    if (kind !== 'ok') {
      const error: ToolError = {
        reason: 'http_status',
        message: `tool answered HTTP ${res.status}`,
        httpStatus: res.status,
        body: truncated(body),
      };
      return { kind, error };
    }
    return resultOf(body, text);
  },
};

/** `lambda`: invoke by ARN with `{arguments, idempotencyKey, toolName}`; the returned JSON is the result. */
export function lambdaRunner(client: LambdaClient = lambdaClient()): ToolRunner {
  return {
    async run(tool, args, { idempotencyKey }) {
      let out: InvokeCommandOutput;
      try {
        out = await client.send(
          new InvokeCommand({
            FunctionName: tool.arn!,
            InvocationType: 'RequestResponse',
            Payload: Buffer.from(JSON.stringify({ arguments: args, idempotencyKey, toolName: tool.name })),
          }),
          { abortSignal: AbortSignal.timeout(tool.timeoutMs) },
        );
      } catch (err) {
        // Throttled, not found, denied, timed out: the function did not run to completion; retry is safe.
        const timedOut = (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
        const reason = timedOut ? 'timeout' : 'invoke_error';
        return {
          kind: 'retryable',
          error: { reason, message: `${(err as Error).name}: ${(err as Error).message}` },
        };
      }
      const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
      const body = parseBody(text, 'application/json');
      if (out.FunctionError) {
        // The function threw or crashed: it may be transient, so the next call runs it again.
        return {
          kind: 'retryable',
          error: {
            reason: 'function_error',
            message: `function error (${out.FunctionError})`,
            body: truncated(body),
          },
        };
      }
      return resultOf(body, text);
    },
  };
}

/** Picks the runner for a tool's kind. */
export function runnerFor(runners: { http: ToolRunner; lambda: ToolRunner }): ToolRunner {
  return { run: (tool: ToolSpec, args, ctx) => runners[tool.kind].run(tool, args, ctx) };
}

function resultOf(body: unknown, text: string): ToolOutcome {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > toolCallLimits.maxResultBytes) {
    // The side effect happened; running it again would not make the result smaller. Final.
    return {
      kind: 'rejected',
      error: {
        reason: 'result_too_large',
        message: `result is ${bytes} bytes, limit ${toolCallLimits.maxResultBytes}`,
      },
    };
  }
  return { kind: 'ok', result: body };
}

function transportError(err: unknown, tool: ToolSpec): ToolError {
  const e = err as Error & { cause?: { code?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return { reason: 'timeout', message: `no answer within ${tool.timeoutMs} ms` };
  }
  return { reason: 'network', message: e.cause?.code ?? e.message };
}

function parseBody(text: string, contentType: string | null): unknown {
  if (!text) return null;
  if (contentType && !/json/i.test(contentType)) return text;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Error bodies are kept for the caller, but bounded: they live in the record. */
function truncated(body: unknown): unknown {
  let s: string | undefined;
  try {
    s = typeof body === 'string' ? body : JSON.stringify(body);
  } catch {
    // Too deep to serialize: the tool's answer is still final, only its body cannot be kept.
    return '[body not serializable]';
  }
  return s && s.length > 4096 ? `${s.slice(0, 4096)}…` : body;
}
