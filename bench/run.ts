import * as os from 'node:os';
import type { FactSearcher } from '../lambdas/domain/context';
import { buildContext, type ContextResponse } from '../lambdas/domain/context-builder';
import { PolicyPins } from '../lambdas/domain/policy-pins';
import { tiktokenCounter } from '../lambdas/domain/tokens';
import { FactStore } from '../lambdas/stores/fact-store';
import { PolicyStore } from '../lambdas/stores/policy-store';
import { ProfileStore } from '../lambdas/stores/profile-store';
import { SessionStore } from '../lambdas/stores/session-store';
import { localAws } from '../local/runtime';
import { type NaiveStores, naiveBuild } from './naive';
import { questionOf, type Seeded, seed } from './seed';

// Node 20 here, Node 24 in Lambda: the SDK's once-per-process notice would only clutter the table.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * `npm run bench`: context build on a 200-turn session with 500 facts, against the emulators
 * (DynamoDB Local and moto, started here unless AWS_ENDPOINT_URL is set), our builder and the naive
 * one side by side, interleaved.
 */
const TURNS = 200;
const FACTS = 500;
/** Phase A: every store on the emulators. */
const ROUNDS_A = Number.parseInt(process.env.BENCH_ROUNDS_A ?? '60', 10);
/** Phase B: the same, with each question's facts answer replayed from memory for both builders. */
const ROUNDS_B = Number.parseInt(process.env.BENCH_ROUNDS ?? '120', 10);
const QUESTIONS = 10;

const log = (m: string) => console.error(`[bench] ${m}`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
};
const f = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

interface Samples {
  ours: number[];
  naive: number[];
  assemble: number[];
  tokenize: number[];
  naiveInProcess: number[];
  factsMs: number[];
}

type Stores = NaiveStores & { sessions: SessionStore; profiles: ProfileStore; policies: PolicyStore };

async function measure(s: Seeded, stores: Stores, rounds: number, warmup: number) {
  const deps = {
    sessions: stores.sessions,
    facts: stores.facts,
    profiles: stores.profiles,
    // Like for like with the naive builder, which has no recall (bench:recall measures recall).
    recall: null,
    pins: new PolicyPins(stores.policies, tiktokenCounter, { labelTtlMs: 30_000, deadlineMs: 60_000 }),
    tokens: tiktokenCounter,
    deadlineMs: 60_000,
  };
  const out: Samples = { ours: [], naive: [], assemble: [], tokenize: [], naiveInProcess: [], factsMs: [] };
  let sample: ContextResponse | undefined;
  for (let i = 0; i < warmup + rounds; i++) {
    const req = { route: s.route, input: questionOf(i % QUESTIONS), userId: s.userId };
    const t0 = performance.now();
    const { response } = await buildContext(deps, s.tenantId, s.sessionId, req);
    const t1 = performance.now();
    const naive = await naiveBuild(stores, s.tenantId, s.sessionId, req);
    const t2 = performance.now();
    if (response.degraded.length) throw new Error(`degraded: ${response.degraded.join(', ')}`);
    if (naive.tokensTotal !== response.usage.tokensTotal)
      throw new Error('the builders disagree on the context');
    if (i < warmup) continue;
    sample ??= response;
    out.ours.push(t1 - t0);
    out.naive.push(t2 - t1);
    out.assemble.push(response.timings.assemble!);
    out.tokenize.push(response.timings.tokenize!);
    out.naiveInProcess.push(naive.inProcessMs);
    out.factsMs.push(response.timings.facts!);
  }
  return { samples: out, sample: sample! };
}

function table(title: string, x: Samples) {
  const row = (name: string, xs: number[]) =>
    `| ${name.padEnd(46)} | ${f(pct(xs, 50)).padStart(8)} | ${f(pct(xs, 95)).padStart(8)} |`;
  return [
    title,
    '',
    `| ${'ms per request'.padEnd(46)} | ${'p50'.padStart(8)} | ${'p95'.padStart(8)} |`,
    `|${'-'.repeat(48)}|${'-'.repeat(10)}|${'-'.repeat(10)}|`,
    row('context builder (parallel reads, pinned policy)', x.ours),
    row('naive builder (sequential, re-tokenizes all)', x.naive),
    row('  builder: facts search (one of its reads)', x.factsMs),
    row('  builder in-process: budgeting + assembly', x.assemble),
    row('  builder in-process: tokenize the input', x.tokenize),
    row('  naive in-process: re-tokenize + budget', x.naiveInProcess),
    '',
    `naive / builder: p50 ${(pct(x.naive, 50) / pct(x.ours, 50)).toFixed(2)}x, p95 ${(pct(x.naive, 95) / pct(x.ours, 95)).toFixed(2)}x`,
    '',
  ].join('\n');
}

async function main() {
  const started = performance.now();
  const aws = await localAws(log);
  try {
    process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
    Object.assign(process.env, aws.environment);

    const seedStarted = performance.now();
    const s = await seed({ turns: TURNS, facts: FACTS });
    log(
      `seeded ${TURNS} turns (${s.historyTokens} tokens) and ${FACTS} facts in ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`,
    );
    const real = new FactStore();
    const stores: Stores = {
      sessions: new SessionStore(),
      facts: real,
      profiles: new ProfileStore(),
      policies: new PolicyStore(),
    };

    log(`phase A: all stores on the emulator, ${ROUNDS_A} rounds`);
    const a = await measure(s, stores, ROUNDS_A, 1);

    const answers = new Map<string, Awaited<ReturnType<FactStore['search']>>>();
    const replayed: FactSearcher = {
      async search(tenantId, q) {
        const key = q.query;
        if (!answers.has(key)) answers.set(key, await real.search(tenantId, q));
        return answers.get(key)!;
      },
    };
    log(`phase B: facts answers replayed from memory, ${ROUNDS_B} rounds`);
    const b = await measure(s, { ...stores, facts: replayed }, ROUNDS_B, QUESTIONS);

    const sample = a.sample;
    console.log(
      [
        '',
        `Context build: ${TURNS}-turn session (${s.historyTokens} history tokens, summary of 12 facts), ${FACTS} facts,`,
        `profile of 6 attributes; builders interleaved, same requests; ${os.cpus().length} cores, node ${process.version}.`,
        '',
        table(`A. every store on the emulators, ${ROUNDS_A} requests each`, a.samples),
        table(`B. facts search answered from memory for both, ${ROUNDS_B} requests each`, b.samples),
        `sample context: ${sample.usage.tokensTotal} tokens, tax ratio ${sample.usage.tokenTaxRatio}; ` +
          sample.sections
            .map((x) => `${x.source} ${x.tokens}/${x.cap} (${x.items} in, ${x.dropped.length} out)`)
            .join(', '),
        `whole bench: ${((performance.now() - started) / 1000).toFixed(0)} s`,
        '',
      ].join('\n'),
    );
  } finally {
    await aws.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
