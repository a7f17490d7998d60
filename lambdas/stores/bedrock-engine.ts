import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { type BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import {
  candidatesFromAnswer,
  InvalidModelAnswerError,
  SYSTEM_PROMPT,
  transcriptOf,
} from '../domain/summarizer/bedrock-format';
import { composeSummary } from '../domain/summarizer/compose';
import type { EngineResult, SummarizeInput, SummarizerEngine } from '../domain/summarizer/engine';
import type { TokenCounter } from '../domain/tokens';
import { logger, metrics } from '../http/observability';
import { bedrockClient } from './clients';

/**
 * The Bedrock engine: one Converse call per job (model id from the route's policy, temperature 0),
 * its JSON answer validated, then merged and capped exactly like the extractive engine's facts.
 * An invalid answer, or a request Bedrock refuses for good (access, unknown model), falls back to
 * the extractive engine; throttling and 5xx are thrown so SQS retries the job later.
 */
export class BedrockEngine implements SummarizerEngine {
  readonly name: string;

  constructor(
    private readonly modelId: string,
    private readonly fallback: SummarizerEngine,
    private readonly tokens: TokenCounter,
    private readonly client: BedrockRuntimeClient = bedrockClient(),
  ) {
    this.name = `bedrock:${modelId}`;
  }

  async summarize(input: SummarizeInput): Promise<EngineResult> {
    let text: string;
    try {
      const out = await this.client.send(
        new ConverseCommand({
          modelId: this.modelId,
          system: [{ text: SYSTEM_PROMPT }],
          messages: [{ role: 'user', content: [{ text: transcriptOf(input) }] }],
          inferenceConfig: { temperature: 0, maxTokens: Math.min(4096, input.caps.maxTokens * 2 + 512) },
        }),
      );
      text = (out.output?.message?.content ?? []).map((c) => c.text ?? '').join('');
    } catch (err) {
      if (isTransient(err)) throw err;
      return this.fallBack(input, 'refused', err);
    }
    try {
      return composeSummary(input, candidatesFromAnswer(text, input), this.name, this.tokens);
    } catch (err) {
      if (err instanceof InvalidModelAnswerError) return this.fallBack(input, 'invalid_answer', err);
      throw err;
    }
  }

  private fallBack(input: SummarizeInput, reason: string, err: unknown): Promise<EngineResult> {
    logger.warn('bedrock summary unusable, falling back to extractive', {
      modelId: this.modelId,
      reason,
      error: err as Error,
    });
    metrics.addMetric('summarize_fallbacks', MetricUnit.Count, 1);
    return this.fallback.summarize(input);
  }
}

/** Throttling, timeouts, 5xx and network errors: worth a retry of the whole job. */
function isTransient(err: unknown): boolean {
  const e = err as { $retryable?: unknown; $metadata?: { httpStatusCode?: number }; name?: string };
  const status = e.$metadata?.httpStatusCode;
  if (e.$retryable || e.name === 'ThrottlingException' || e.name === 'ServiceUnavailableException')
    return true;
  return status === undefined || status >= 500 || status === 429;
}
