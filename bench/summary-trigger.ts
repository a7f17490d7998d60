import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { defaultPolicy } from '../lambdas/domain/policy';
import { deps, handler } from '../lambdas/handlers/sessions';
import { PolicyStore } from '../lambdas/stores/policy-store';
import { SummaryTrigger } from '../lambdas/stores/summary-jobs';
import { localAws } from '../local/runtime';
import { lambdaContext } from '../local/server';

// Node 20 here, Node 24 in Lambda: the SDK's once-per-process notice would only clutter the table.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * `npx tsx bench/summary-trigger.ts`: what the summarization trigger adds to a turn append, against
 * the emulators (DynamoDB Local and moto, started here unless AWS_ENDPOINT_URL is set). The sessions handler is invoked
 * in-process, three ways interleaved round by round: trigger off, trigger on below the threshold
 * (a cached policy read), trigger on above it (plus one SQS SendMessage per append).
 * Run with POWERTOOLS_METRICS_DISABLED=true to keep EMF lines off stdout.
 */
const ROUNDS = Number.parseInt(process.env.BENCH_ROUNDS ?? '200', 10);
const WARMUP = 10;
const log = (m: string) => console.error(`[bench] ${m}`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};

type Mode = 'off' | 'below' | 'enqueue';

async function main() {
  const aws = await localAws(log);
  try {
    process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    Object.assign(process.env, aws.environment);
    const eager = `bench-eager-${Date.now()}`;
    await new PolicyStore().publish(eager, { ...defaultPolicy(eager), summary: { triggerTokens: 1 } });
    // Never over the threshold, however many rounds: the trigger path is only the cached policy read.
    const lazy = `bench-lazy-${Date.now()}`;
    await new PolicyStore().publish(lazy, { ...defaultPolicy(lazy), summary: { triggerTokens: 1_000_000 } });

    // The trigger's own share of the append, timed around afterAppend.
    const inner = new SummaryTrigger();
    const triggerMs: number[] = [];
    const real = {
      afterAppend: async (...args: Parameters<SummaryTrigger['afterAppend']>) => {
        const started = performance.now();
        const outcome = await inner.afterAppend(...args);
        triggerMs.push(performance.now() - started);
        return outcome;
      },
    } as SummaryTrigger;
    const off = { afterAppend: async () => 'below_trigger' as const } as unknown as SummaryTrigger;
    const tenantId = 'bench';
    const runs: Record<
      Mode,
      { route: string; sessionId: string; version: number; ms: number[]; trigger: number[] }
    > = {
      off: { route: 'default', sessionId: `off-${Date.now()}`, version: 0, ms: [], trigger: [] as number[] },
      below: {
        route: lazy,
        sessionId: `below-${Date.now()}`,
        version: 0,
        ms: [],
        trigger: [] as number[],
      },
      enqueue: {
        route: eager,
        sessionId: `enqueue-${Date.now()}`,
        version: 0,
        ms: [],
        trigger: [] as number[],
      },
    };
    for (let round = 0; round < WARMUP + ROUNDS; round++) {
      for (const mode of ['off', 'below', 'enqueue'] as Mode[]) {
        const r = runs[mode];
        deps.summaryTrigger = mode === 'off' ? off : real;
        const event = appendEvent(tenantId, r.sessionId, {
          expectedVersion: r.version,
          route: r.route,
          turns: [
            { role: 'user', content: `Question ${round}: how does the import job handle row ${round}?` },
            { role: 'assistant', content: 'It validates the row against the schema and writes it if valid.' },
          ],
        });
        const started = performance.now();
        const res = (await handler(event, lambdaContext('sessions'))) as APIGatewayProxyStructuredResultV2;
        const ms = performance.now() - started;
        if (res.statusCode !== 200) throw new Error(`append answered ${res.statusCode}: ${res.body}`);
        r.version = JSON.parse(res.body as string).version;
        if (round >= WARMUP) {
          r.ms.push(ms);
          if (mode !== 'off') r.trigger.push(triggerMs.at(-1)!);
        }
      }
    }
    console.log(
      `append latency, in-process handler against the local emulators, ${ROUNDS} appends of 2 turns each:`,
    );
    console.log(
      '| trigger path | append p50 ms | append p95 ms | append mean ms | trigger p50 ms | trigger p95 ms |',
    );
    console.log('|---|---|---|---|---|---|');
    for (const mode of ['off', 'below', 'enqueue'] as Mode[]) {
      const ms = runs[mode].ms;
      const mean = ms.reduce((a, b) => a + b, 0) / ms.length;
      const t = runs[mode].trigger;
      if (process.env.BENCH_DEBUG)
        console.log(
          mode,
          [...t]
            .sort((a, b) => b - a)
            .slice(0, 15)
            .map((x) => x.toFixed(1))
            .join(' '),
        );
      const trig = t.length ? `${pct(t, 50).toFixed(2)} | ${pct(t, 95).toFixed(2)}` : '- | -';
      console.log(
        `| ${mode} | ${pct(ms, 50).toFixed(2)} | ${pct(ms, 95).toFixed(2)} | ${mean.toFixed(2)} | ${trig} |`,
      );
    }
  } finally {
    await aws.stop();
  }
}

function appendEvent(tenantId: string, sessionId: string, body: unknown): APIGatewayProxyEventV2 {
  const routeKey = 'POST /v1/sessions/{sessionId}/turns';
  return {
    version: '2.0',
    routeKey,
    rawPath: `/v1/sessions/${sessionId}/turns`,
    rawQueryString: '',
    headers: { 'content-type': 'application/json' },
    pathParameters: { sessionId },
    body: JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      authorizer: { lambda: { tenantId } },
      http: {
        method: 'POST',
        path: `/v1/sessions/${sessionId}/turns`,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'bench',
      },
      requestId: `r-${Math.random()}`,
      routeKey,
      stage: '$default',
      time: new Date().toISOString(),
      timeEpoch: Date.now(),
    },
  } as unknown as APIGatewayProxyEventV2;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
