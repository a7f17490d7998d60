import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { installEmulator, MOTO_VERSION } from '../local/emulator';
import { type Emulator, freePort, stopChild } from '../local/processes';
import { type Started, startProcess } from '../test/support/start-process';

/**
 * `npm run bench:soak`: one long conversation appended over HTTP to `npm start`'s server, once per
 * emulator setup, one setup at a time: (a) moto for everything, as the old local runtime ran it, and
 * (b) DynamoDB Local for DynamoDB + moto for SQS and SSM. 20 user turns of ~25 tokens a request,
 * with CAS, summarization on (the default policy's trigger). Prints append latency for the first and
 * the last 1,000 turns, 5xx answers and the peak memory of every emulator process, side by side.
 *
 * SOAK_TURNS (default 10000) for quick runs; SOAK_ARMS=moto,dynamodb-local picks the setups.
 * moto slows down with every transaction, so its arm stops at SOAK_MOTO_LIMIT_S (default 240) seconds
 * or 6 GB of emulator memory, and says how far it got. Memory figures need Linux (/proc).
 */
const TURNS = Number.parseInt(process.env.SOAK_TURNS ?? '10000', 10);
const PER_REQUEST = 20;
const WINDOW = Math.min(1000, Math.floor(TURNS / 2));
const MOTO_LIMIT_MS = Number.parseInt(process.env.SOAK_MOTO_LIMIT_S ?? '240', 10) * 1000;
const ARM_LIMIT_MS = 30 * 60_000;
const RSS_LIMIT_KB = 6 * 1024 * 1024;
const KEY = 'cp_local_demo_key';

const log = (m: string) => console.error(`[soak] ${m}`);

/**
 * The old local runtime's moto, as it was: a lock around DynamoDB writes, without which moto's
 * threaded server lets racing transactions (an append and the summarizer's commit) overwrite each
 * other, and sessions vanish.
 */
const SERIALIZED_DYNAMODB = `
import sys, threading
import moto.server as server
lock = threading.Lock()
WRITES = {'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems'}
run_simple = server.run_simple
def serialized_run_simple(host, port, app, **kwargs):
    def handle(environ, start_response):
        if environ.get('HTTP_X_AMZ_TARGET', '').split('.')[-1] in WRITES:
            with lock:
                return list(app(environ, start_response))
        return app(environ, start_response)
    return run_simple(host, port, handle, **kwargs)
server.run_simple = serialized_run_simple
server.main(sys.argv[1:])
`;

async function startOldMoto(): Promise<Emulator> {
  const port = await freePort();
  log(`starting moto ${MOTO_VERSION} with serialized DynamoDB writes on port ${port}`);
  const child = spawn(
    installEmulator(log),
    ['-c', SERIALIZED_DYNAMODB, '-H', '127.0.0.1', '-p', String(port)],
    {
      stdio: 'ignore',
    },
  );
  process.once('exit', () => child.kill('SIGKILL'));
  const endpoint = `http://localhost:${port}`;
  for (let i = 0; i < 300; i++) {
    if (
      await fetch(`${endpoint}/moto-api/`).then(
        (r) => r.ok,
        () => false,
      )
    ) {
      return { endpoint, pid: child.pid!, stop: () => stopChild(child) };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('moto did not answer within 30 s');
}

type ArmName = 'moto' | 'dynamodb-local';
const ARMS: Record<ArmName, string> = {
  moto: '(a) moto only',
  'dynamodb-local': '(b) DynamoDB Local + moto',
};

interface Result {
  arm: ArmName;
  turns: number;
  /** ms per request, in order */
  latencies: number[];
  serverErrors: number;
  seconds: number;
  /** 1-minute load average when the arm ended: other work on the machine skews latencies */
  load: number;
  stoppedBecause?: string;
  /** peak RSS in KB by process label */
  peaks: Map<string, number>;
}

// ~25 tokens each, the kind of thing a support chat's user writes.
const TEMPLATES = [
  (n: number) =>
    `Hi, my order #${n} still hasn't arrived and the tracking page has not changed since Tuesday.`,
  (n: number) => `Can you move the delivery of order ${n} to next Friday morning? I will be away until then.`,
  (n: number) =>
    `I was charged twice for invoice INV-${n}, once by card and once by bank transfer. Please refund one.`,
  (n: number) =>
    `The replacement router you sent (serial ${n}) drops the connection every evening around eight.`,
  (n: number) =>
    `Please update the billing address on account ${n} to 14 Harbour Street, Leith, Edinburgh EH6 6LT.`,
  (n: number) => `Is the premium plan still ${n % 50} euros a month if we add three more seats this quarter?`,
];
const turnText = (i: number) => TEMPLATES[i % TEMPLATES.length]!(10_000 + i * 7);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? Number.NaN;
};

/** Every process below the roots, by /proc/<pid>/stat's parent pid. */
function descendants(roots: number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  for (const r of roots) walk(r);
  return out;
}

const LABELS: [RegExp, string][] = [
  [/^java/, 'DynamoDB Local (java)'],
  [/^python/, 'moto (python)'],
];

/** Peak RSS (VmHWM) of each emulator process under the roots; the largest current RSS too. */
function sampleMemory(roots: number[], peaks: Map<string, number>): number {
  let largest = 0;
  for (const pid of descendants(roots)) {
    try {
      const comm = fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      const label = LABELS.find(([re]) => re.test(comm))?.[1];
      if (!label) continue;
      const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      peaks.set(label, Math.max(peaks.get(label) ?? 0, kb('VmHWM')));
      largest = Math.max(largest, kb('VmRSS'));
    } catch {
      // gone meanwhile
    }
  }
  return largest;
}

async function runArm(arm: ArmName): Promise<Result> {
  log(`${ARMS[arm]}: starting`);
  const moto = arm === 'moto' ? await startOldMoto() : undefined;
  let server: Started | undefined;
  const result: Result = {
    arm,
    turns: 0,
    latencies: [],
    serverErrors: 0,
    seconds: 0,
    load: 0,
    peaks: new Map(),
  };
  try {
    server = await startProcess({
      // (a) hands npm start a moto for everything; (b) lets it start its own emulators.
      AWS_ENDPOINT_URL: moto?.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: undefined,
      AWS_ENDPOINT_URL_SQS: undefined,
      AWS_ENDPOINT_URL_SSM: undefined,
      CONTEXT_PLANE_TENANTS: undefined,
      CONTEXT_PLANE_DATA_DIR: undefined,
    });
    const roots = [server.child.pid!, ...(moto ? [moto.pid] : [])];
    const limitMs = arm === 'moto' ? MOTO_LIMIT_MS : ARM_LIMIT_MS;
    let largestRss = 0;
    const sampler = setInterval(() => {
      largestRss = Math.max(largestRss, sampleMemory(roots, result.peaks));
    }, 500);

    const sessionId = `soak-${arm}-${Date.now()}`;
    const url = `${server.url}/v1/sessions/${sessionId}/turns`;
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    const started = performance.now();
    let version = 0;
    try {
      while (result.turns < TURNS) {
        const elapsed = performance.now() - started;
        if (elapsed > limitMs) {
          result.stoppedBecause = `time bound: ${Math.round(limitMs / 1000)} s`;
          break;
        }
        if (largestRss > RSS_LIMIT_KB) {
          result.stoppedBecause = `memory bound: an emulator process passed ${RSS_LIMIT_KB / 1024 / 1024} GB`;
          break;
        }
        const turns = Array.from({ length: PER_REQUEST }, (_, k) => ({
          role: 'user',
          content: turnText(result.turns + k),
        }));
        const t0 = performance.now();
        const res = await fetch(url, {
          method: 'POST',
          headers,
          body: JSON.stringify({ expectedVersion: version, turns }),
        });
        const ms = performance.now() - t0;
        const body = (await res.json()) as { version?: number };
        if (res.ok) {
          version = body.version!;
          result.turns += PER_REQUEST;
          result.latencies.push(ms);
          if (result.turns % 1000 === 0) log(`${ARMS[arm]}: ${result.turns} turns, last ${ms.toFixed(0)} ms`);
          continue;
        }
        if (res.status >= 500) result.serverErrors++;
        log(`${ARMS[arm]}: ${res.status} ${JSON.stringify(body)}`);
        // A 5xx may have committed: continue from the stored version, not the one we sent.
        const state = await fetch(`${server.url}/v1/sessions/${sessionId}`, { headers });
        if (!state.ok) {
          result.stoppedBecause = `the session is gone (GET answered ${state.status})`;
          break;
        }
        const session = (await state.json()) as { version: number };
        if (session.version !== version) result.turns += PER_REQUEST;
        version = session.version;
      }
    } finally {
      result.seconds = (performance.now() - started) / 1000;
      result.load = os.loadavg()[0]!;
      sampleMemory(roots, result.peaks);
      clearInterval(sampler);
    }
    return result;
  } finally {
    if (server) await server.stop('SIGINT');
    await moto?.stop();
  }
}

function report(results: Result[]) {
  const f = (n: number) => (Number.isNaN(n) ? '–' : n >= 100 ? n.toFixed(0) : n.toFixed(1));
  const gb = (kb?: number) => (kb === undefined ? '–' : `${(kb / 1024 / 1024).toFixed(2)} GB`);
  const window = (r: Result, last: boolean) => {
    const n = WINDOW / PER_REQUEST;
    return last ? r.latencies.slice(-n) : r.latencies.slice(0, n);
  };
  const labels = [...new Set(results.flatMap((r) => [...r.peaks.keys()]))].sort();
  const rows: [string, (r: Result) => string][] = [
    ['turns appended', (r) => `${r.turns.toLocaleString('en')} of ${TURNS.toLocaleString('en')}`],
    ['stopped early', (r) => r.stoppedBecause ?? 'no'],
    // Fewer turns than two windows: first and last overlap, and say so.
    ['first and last windows overlap', (r) => (r.turns < 2 * WINDOW ? 'yes' : 'no')],
    ['wall time', (r) => `${r.seconds.toFixed(0)} s`],
    ['load average (1 min) at the end', (r) => r.load.toFixed(1)],
    [
      `append ms, first ${WINDOW} turns: p50 / p95`,
      (r) => `${f(pct(window(r, false), 50))} / ${f(pct(window(r, false), 95))}`,
    ],
    [
      `append ms, last ${WINDOW} turns: p50 / p95`,
      (r) => `${f(pct(window(r, true), 50))} / ${f(pct(window(r, true), 95))}`,
    ],
    ['p95 last / first', (r) => `${(pct(window(r, true), 95) / pct(window(r, false), 95)).toFixed(2)}x`],
    ['5xx answers', (r) => String(r.serverErrors)],
    ...labels.map((l): [string, (r: Result) => string] => [`peak RSS, ${l}`, (r) => gb(r.peaks.get(l))]),
  ];
  const header = ['', ...results.map((r) => ARMS[r.arm])];
  const lines = [
    '',
    `Soak: ${TURNS.toLocaleString('en')} user turns over HTTP, ${PER_REQUEST} a request with CAS, summarization on;`,
    `${os.cpus().length} cores, node ${process.version}, one setup at a time.`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map(([name, cell]) => `| ${[name, ...results.map(cell)].join(' | ')} |`),
    '',
  ];
  const b = results.find((r) => r.arm === 'dynamodb-local');
  if (b) {
    const ratio = pct(window(b, true), 95) / pct(window(b, false), 95);
    const peak = Math.max(...b.peaks.values());
    const ok = (pass: boolean) => (pass ? 'pass' : 'FAIL');
    lines.push(
      `(b) acceptance: all turns ${ok(b.turns === TURNS)}; p95 last/first ≤ 1.5x ${ok(ratio <= 1.5)}; ` +
        `every emulator ≤ 1.5 GB ${ok(peak <= 1.5 * 1024 * 1024)}; no 5xx ${ok(b.serverErrors === 0)}`,
      '',
    );
  }
  console.log(lines.join('\n'));
}

async function main() {
  const arms = (process.env.SOAK_ARMS ?? 'moto,dynamodb-local').split(',') as ArmName[];
  for (const arm of arms) if (!(arm in ARMS)) throw new Error(`SOAK_ARMS: unknown setup '${arm}'`);
  const results: Result[] = [];
  for (const arm of arms) results.push(await runArm(arm));
  report(results);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
