import * as fs from 'node:fs';
import * as os from 'node:os';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { defaultPolicy } from '../lambdas/domain/policy';
import { tiktokenCounter } from '../lambdas/domain/tokens';
import { queueConsumers } from '../lambdas/routes';
import { PolicyStore } from '../lambdas/stores/policy-store';
import { startLocal } from '../local/runtime';
import { Baselines, type BuiltContext, contentOf, type Message, recalled } from './recall-baselines';
import { type Conversation, generateCorpus, type QuestionType, questionTypes } from './recall-corpus';

// Node 20 here, Node 24 in Lambda: the SDK's once-per-process notice would only clutter the table.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * `npm run bench:recall`: does the built context carry the conversation's memory? A synthetic corpus
 * of long multi-session conversations is appended over HTTP to a local context-plane, exactly as a
 * user would, then every question asks for a context at each total; a question counts when all its
 * evidence turns are in the answer. Baselines from the same corpus are printed beside it.
 *
 * RECALL_CONVERSATIONS (default 8, --quick 3 shorter ones), RECALL_SEED (default 1),
 * RECALL_QUIET_MS (longest wait for the summary queue to drain after the appends, default 20 s as
 * in the held-out benchmark), RECALL_AT=0 (append without `at`, as the held-out benchmark does).
 */
const QUICK = process.argv.includes('--quick');
const CONVERSATIONS = Number.parseInt(process.env.RECALL_CONVERSATIONS ?? (QUICK ? '3' : '8'), 10);
const SEED = Number.parseInt(process.env.RECALL_SEED ?? '1', 10);
const QUIET_MS = Number.parseInt(process.env.RECALL_QUIET_MS ?? '20000', 10);
const TOTALS = [1000, 2000, 4000] as const;
/** RECALL_POLICY: JSON merged into the default policy before the questions (e.g. '{"split":{...}}') */
const POLICY = process.env.RECALL_POLICY;
const TURNS_PER_APPEND = 20;
const KEY = 'cp_local_demo_key';
// The source document's scenario.
const SESSIONS_PER_DAY = 50_000;
const TURNS_PER_SESSION_DAY = 6;
const USD_PER_MTOK = 5;

const log = (m: string) => console.error(`[bench:recall] ${m}`);
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
};
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const percent = (hits: number, n: number) => `${((100 * hits) / Math.max(1, n)).toFixed(1)} %`;
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));

/** Peak memory of this process's children (the emulators), sampled every second from /proc. */
function sampleChildren(root: number) {
  const peaks = new Map<number, { name: string; kb: number }>();
  let peakSumKb = 0;
  const field = (status: string, name: string) =>
    Number.parseInt(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? '0', 10);
  const sample = () => {
    const children = new Map<number, number[]>();
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
        // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so parse from the last ')'.
        const ppid = Number.parseInt(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]!, 10);
        children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
      } catch {
        // gone between readdir and read
      }
    }
    let sumKb = 0;
    const walk = (pid: number) => {
      for (const child of children.get(pid) ?? []) {
        try {
          const status = fs.readFileSync(`/proc/${child}/status`, 'utf8');
          const name = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?';
          // tsx's esbuild service is a child too, but no part of the emulators.
          if (name === 'esbuild') continue;
          // VmHWM is the kernel's own peak, so a spike between two samples still counts.
          const kb = Math.max(field(status, 'VmHWM'), field(status, 'VmRSS'));
          sumKb += field(status, 'VmRSS');
          if (kb > (peaks.get(child)?.kb ?? 0)) peaks.set(child, { name, kb });
        } catch {
          // exited
        }
        walk(child);
      }
    };
    walk(root);
    peakSumKb = Math.max(peakSumKb, sumKb);
  };
  sample();
  const timer = setInterval(sample, 1000);
  return {
    stop() {
      clearInterval(timer);
      return { peaks: [...peaks.values()], peakSumKb };
    },
  };
}

interface ApiResult<T> {
  status: number;
  body: T;
  ms: number;
}

async function call<T>(url: string, body: unknown): Promise<ApiResult<T>> {
  const started = performance.now();
  const res = await fetch(url, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as T;
  return { status: res.status, body: json, ms: performance.now() - started };
}

/** Appends the whole conversation, 20 turns a request, with `at` unless the server refuses it. */
async function append(base: string, sessionId: string, conv: Conversation, flags: { at: boolean }) {
  const latencies: number[] = [];
  let version = 0;
  for (let i = 0; i < conv.turns.length; i += TURNS_PER_APPEND) {
    const chunk = conv.turns.slice(i, i + TURNS_PER_APPEND);
    const body = (withAt: boolean) => ({
      expectedVersion: version,
      turns: chunk.map((t) => ({
        role: 'user',
        content: contentOf(t),
        ref: t.id,
        ...(withAt ? { at: t.at } : {}),
      })),
    });
    let res = await call<{ version: number; error?: unknown }>(`${base}/turns`, body(flags.at));
    // `at` is new: a server that does not know it yet refuses the field, and we say so in the output.
    if (res.status === 400 && flags.at && /\bat\b/.test(JSON.stringify(res.body))) {
      flags.at = false;
      log('the server refused `at` (400): appending without it');
      res = await call(`${base}/turns`, body(false));
    }
    if (res.status !== 200)
      throw new Error(`append ${sessionId} → ${res.status} ${JSON.stringify(res.body)}`);
    latencies.push(res.ms);
    version = res.body.version;
  }
  return latencies;
}

/** Waits until the queues a poller consumes are empty for 3 s in a row, at most QUIET_MS. */
async function waitQuiet(): Promise<string> {
  const sqs = new SQSClient({});
  const urls = queueConsumers.map((c) => process.env[c.queueEnv]).filter((u): u is string => !!u);
  const started = Date.now();
  let quietSince: number | undefined;
  let pending = 0;
  while (Date.now() - started < QUIET_MS) {
    pending = 0;
    for (const QueueUrl of urls) {
      const { Attributes: a = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: [
            'ApproximateNumberOfMessages',
            'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed',
          ],
        }),
      );
      pending += Object.values(a).reduce((n, v) => n + Number(v), 0);
    }
    if (pending > 0) quietSince = undefined;
    else quietSince ??= Date.now();
    if (quietSince !== undefined && Date.now() - quietSince >= 3000) {
      sqs.destroy();
      return `queues quiet after ${((Date.now() - started) / 1000).toFixed(0)} s`;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  sqs.destroy();
  return `queues still held ${pending} message(s) after the ${QUIET_MS / 1000} s wait; measured anyway`;
}

interface ContextAnswer {
  messages: Message[];
  usage: { tokensTotal: number };
  timings: Record<string, number>;
  sections: { source: string; tokens: number; cap: number; items: number; dropped: unknown[] }[];
}

type Method = 'last-N' | 'BM25 raw turns' | 'full history' | 'context-plane, recall off' | 'context-plane';
const methods: Method[] = [
  'last-N',
  'BM25 raw turns',
  'full history',
  'context-plane, recall off',
  'context-plane',
];
interface Outcome {
  method: Method;
  total: number;
  type: QuestionType;
  hit: boolean;
  tokens: number;
}

async function main() {
  const started = performance.now();
  const corpus = generateCorpus({ conversations: CONVERSATIONS, seed: SEED, quick: QUICK });
  const turns = corpus.reduce((n, c) => n + c.turns.length, 0);
  const questions = corpus.flatMap((c) => c.questions);
  const baselines = corpus.map((c) => new Baselines(c, tiktokenCounter));
  const transcriptTokens = baselines.map((b) => b.full('').tokens);
  log(`corpus: ${CONVERSATIONS} conversations, ${turns} turns, ${questions.length} questions`);

  const memory = sampleChildren(process.pid);
  process.env.POWERTOOLS_LOG_LEVEL ??= 'ERROR';
  const local = await startLocal({ port: 0, progress: log });
  const outcomes: Outcome[] = [];
  const appendMs: number[] = [];
  const contextMs: number[] = [];
  const contextOffMs: number[] = [];
  /** the server's own timings per store read (context-plane with recall) */
  const timings: Record<string, number[]> = {};
  const flags = { at: process.env.RECALL_AT !== '0' };
  let quiet = '';
  let sample: ContextAnswer | undefined;
  const runId = Date.now().toString(36);
  try {
    if (POLICY) {
      // A policy variant to compare (budgets, split): published as the default route's next version.
      const version = await new PolicyStore().publish('default', {
        ...defaultPolicy('default'),
        ...JSON.parse(POLICY),
      });
      log(`published RECALL_POLICY as default@${version}`);
    }
    const appendStarted = performance.now();
    for (const conv of corpus) {
      appendMs.push(
        ...(await append(sessionUrl(local.url, runId, conv), `${runId}-${conv.id}`, conv, flags)),
      );
      log(`appended ${conv.id}: ${conv.turns.length} turns`);
    }
    const appendWall = (performance.now() - appendStarted) / 1000;
    log(`appends done in ${appendWall.toFixed(0)} s; waiting for the summary queue`);
    quiet = await waitQuiet();
    log(quiet);

    for (const [ci, conv] of corpus.entries()) {
      const base = baselines[ci]!;
      const byId = new Map(conv.turns.map((t) => [t.id, t]));
      for (const q of conv.questions) {
        const evidence = q.evidence.map((id) => byId.get(id)!);
        const score = (method: Method, total: number, ctx: BuiltContext) =>
          outcomes.push({
            method,
            total,
            type: q.type,
            hit: recalled(ctx.messages, evidence),
            tokens: ctx.tokens,
          });
        for (const total of TOTALS) {
          score('last-N', total, base.lastN(q.question, total));
          score('BM25 raw turns', total, base.bm25(q.question, total));
          score('full history', total, base.full(q.question));
          // The same build with the recall section off: what a context was before recall, side by side.
          const off = await call<ContextAnswer>(`${sessionUrl(local.url, runId, conv)}/context`, {
            route: 'default',
            input: q.question,
            budget: { total, recall: 0 },
          });
          if (off.status !== 200) throw new Error(`context → ${off.status} ${JSON.stringify(off.body)}`);
          contextOffMs.push(off.ms);
          score('context-plane, recall off', total, {
            messages: off.body.messages,
            tokens: off.body.usage.tokensTotal,
          });
          const res = await call<ContextAnswer>(`${sessionUrl(local.url, runId, conv)}/context`, {
            route: 'default',
            input: q.question,
            budget: { total },
          });
          if (res.status !== 200) throw new Error(`context → ${res.status} ${JSON.stringify(res.body)}`);
          contextMs.push(res.ms);
          for (const [store, t] of Object.entries(res.body.timings))
            timings[store] = [...(timings[store] ?? []), t];
          if (total === 2000) sample ??= res.body;
          score('context-plane', total, { messages: res.body.messages, tokens: res.body.usage.tokensTotal });
        }
      }
      log(`asked ${conv.id}: ${conv.questions.length} questions × ${TOTALS.length} totals`);
    }
  } finally {
    await local.stop();
  }
  const mem = memory.stop();

  const of = (m: Method, total: number, type?: QuestionType) =>
    outcomes.filter((o) => o.method === m && o.total === total && (!type || o.type === type));
  const recall = (xs: Outcome[]) => percent(xs.filter((o) => o.hit).length, xs.length);
  const cell = (s: string, w = 11) => s.padStart(w);

  const byType = questionTypes.map((t) => `${t} ${questions.filter((q) => q.type === t).length}`).join(', ');
  const totalTokens = transcriptTokens.reduce((a, b) => a + b, 0);
  const header = TOTALS.map((t) => `${cell(`recall@${t}`)} | ${cell(`tokens@${t}`)}`).join(' | ');
  const lines = [
    '',
    `Recall: ${CONVERSATIONS} synthetic conversations (seed ${SEED}${QUICK ? ', quick' : ''}), ${turns} turns, ` +
      `${totalTokens} tokens (${Math.round(totalTokens / CONVERSATIONS)} per conversation), ${questions.length} questions (${byType}).`,
    `Appended over HTTP, ${TURNS_PER_APPEND} turns a request${flags.at ? ', with `at`' : ', WITHOUT `at` (the server refused it)'}; ${quiet}.`,
    `A question counts when every evidence turn is in the context (its text, or its id cited). ${os.cpus().length} cores, node ${process.version}.`,
    '',
    `| ${'method'.padEnd(25)} | ${header} |`,
    `|${'-'.repeat(27)}|${TOTALS.map(() => `${'-'.repeat(13)}|${'-'.repeat(13)}`).join('|')}|`,
    ...methods.map(
      (m) =>
        `| ${m.padEnd(25)} | ${TOTALS.map((t) => `${cell(recall(of(m, t)))} | ${cell(mean(of(m, t).map((o) => o.tokens)).toFixed(0))}`).join(' | ')} |`,
    ),
    '',
    'Recall by question type (context-plane / BM25 raw turns / last-N):',
    '',
    `| ${'type'.padEnd(12)} | questions | ${TOTALS.map((t) => cell(`@${t}`, 22)).join(' | ')} |`,
    `|${'-'.repeat(14)}|-----------|${TOTALS.map(() => '-'.repeat(24)).join('|')}|`,
    ...questionTypes.map(
      (q) =>
        `| ${q.padEnd(12)} | ${cell(String(of('context-plane', 2000, q).length), 9)} | ${TOTALS.map((t) =>
          cell(
            (['context-plane', 'BM25 raw turns', 'last-N'] as const)
              .map((m) => recall(of(m, t, q)).replace(' %', ''))
              .join(' / '),
            22,
          ),
        ).join(' | ')} |`,
    ),
    '',
    `| ${'ms per request (client, HTTP)'.padEnd(36)} | ${cell('n', 5)} | ${cell('p50', 7)} | ${cell('p95', 7)} |`,
    `|${'-'.repeat(38)}|-------|---------|---------|`,
    `| ${`append (${TURNS_PER_APPEND} turns)`.padEnd(36)} | ${cell(String(appendMs.length), 5)} | ${cell(ms(pct(appendMs, 50)), 7)} | ${cell(ms(pct(appendMs, 95)), 7)} |`,
    `| ${'context build, recall off'.padEnd(36)} | ${cell(String(contextOffMs.length), 5)} | ${cell(ms(pct(contextOffMs, 50)), 7)} | ${cell(ms(pct(contextOffMs, 95)), 7)} |`,
    `| ${'context build'.padEnd(36)} | ${cell(String(contextMs.length), 5)} | ${cell(ms(pct(contextMs, 50)), 7)} | ${cell(ms(pct(contextMs, 95)), 7)} |`,
    ...Object.entries(timings).map(
      ([store, xs]) =>
        `| ${`  server: ${store}`.padEnd(36)} | ${cell(String(xs.length), 5)} | ${cell(ms(pct(xs, 50)), 7)} | ${cell(ms(pct(xs, 95)), 7)} |`,
    ),
    '',
    `Emulator peak memory (child processes, sampled every second): ${mem.peaks.map((p) => `${p.name} ${(p.kb / 1024).toFixed(0)} MiB`).join(', ') || 'none seen (AWS_ENDPOINT_URL set?)'}; ` +
      `peak of their sum ${(mem.peakSumKb / 1024).toFixed(0)} MiB. This process (API + pollers in-process): ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB RSS at the end.`,
    '',
    ...cost(mean(transcriptTokens), mean(of('context-plane', 2000).map((o) => o.tokens))),
    '',
    sample
      ? `sample context-plane context at 2,000: ${sample.usage.tokensTotal} tokens; ${sample.sections
          .map((s) => `${s.source} ${s.tokens}/${s.cap} (${s.items} in, ${s.dropped.length} out)`)
          .join(', ')}`
      : '',
    `whole bench: ${((performance.now() - started) / 1000).toFixed(0)} s`,
    '',
  ];
  console.log(lines.join('\n'));
}

const sessionUrl = (base: string, runId: string, conv: Conversation) =>
  `${base}/v1/sessions/recall-${runId}-${conv.id}`;

/** The source document's scenario: every model call sends the context, at $5 per million input tokens. */
function cost(fullTokens: number, ourTokens: number) {
  const calls = SESSIONS_PER_DAY * TURNS_PER_SESSION_DAY;
  const usd = (tokens: number) => (calls * tokens * USD_PER_MTOK) / 1e6;
  const money = (n: number) => `$${n.toLocaleString('en-US', { maximumFractionDigits: 0 })}`;
  return [
    `Cost: ${SESSIONS_PER_DAY.toLocaleString('en-US')} sessions × ${TURNS_PER_SESSION_DAY} turns a day = ${calls.toLocaleString('en-US')} model calls, $${USD_PER_MTOK} per million input tokens:`,
    `  full history (mean ${fullTokens.toFixed(0)} tokens measured per conversation): ${money(usd(fullTokens))}/day`,
    `  context-plane at 2,000 (mean ${ourTokens.toFixed(0)} tokens measured): ${money(usd(ourTokens))}/day` +
      ` (${(fullTokens / Math.max(1, ourTokens)).toFixed(1)}× less)`,
  ];
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
