import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Emulator, freePort, stopChild } from './processes';

/**
 * DynamoDB Local (AWS's own emulator, Java) for the local runtime's DynamoDB: the jars come from
 * Maven Central, pinned in dynamodb-local.lock.json with their sha256, fetched once by Node alone
 * into a git-ignored folder laid out as DynamoDB Local expects (DynamoDBLocal.jar + DynamoDBLocal_lib/
 * with the sqlite4java native libraries).
 */
const ROOT = path.join(__dirname, '..');
const LOCK_FILE = path.join(__dirname, 'dynamodb-local.lock.json');
const LAUNCHER = path.join(__dirname, 'LoopbackLauncher.java');

interface Lock {
  version: string;
  repository: string;
  files: { path: string; file: string; sha256: string }[];
}
const lock = JSON.parse(fs.readFileSync(LOCK_FILE, 'utf8')) as Lock;

export const DYNAMODB_LOCAL_VERSION = lock.version;
/** DynamoDBLocal.jar and DynamoDBLocal_lib/ (run with -Djava.library.path=DynamoDBLocal_lib). */
export const DYNAMODB_LOCAL_DIR = path.join(ROOT, '.dynamodb-local', DYNAMODB_LOCAL_VERSION);
const MARKER = path.join(DYNAMODB_LOCAL_DIR, '.installed');

const JAVA_HINT =
  'DynamoDB Local needs Java ≥ 17: apt-get install openjdk-17-jre-headless (macOS: brew install openjdk@17)';

/** A missing prerequisite, said in one line; `npm start` prints only the message. */
export class PrerequisiteError extends Error {}

type Progress = (message: string) => void;
const quiet: Progress = () => {};

/** Throws a PrerequisiteError unless `java` runs and is at least Java 17. */
export function checkJava(): void {
  const out = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (out.error || out.status !== 0) throw new PrerequisiteError(`${JAVA_HINT} (no java on PATH)`);
  // `openjdk version "17.0.15"`, `java version "1.8.0_402"`
  const m = /version "(\d+)(?:\.(\d+))?/.exec(out.stderr);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : 0;
  if (major < 17)
    throw new PrerequisiteError(`${JAVA_HINT} (found ${m ? `Java ${major}` : 'an unknown java'})`);
}

/** Downloads and verifies every pinned file, unless this version is already installed; returns the folder. */
export async function installDynamoDbLocal(progress: Progress = quiet): Promise<string> {
  checkJava();
  if (fs.existsSync(MARKER)) return DYNAMODB_LOCAL_DIR;
  progress(
    `fetching DynamoDB Local ${DYNAMODB_LOCAL_VERSION} (${lock.files.length} files) from Maven Central (once)`,
  );
  fs.mkdirSync(path.join(DYNAMODB_LOCAL_DIR, 'DynamoDBLocal_lib'), { recursive: true });
  const queue = [...lock.files];
  // A few downloads at a time: ~50 MB in 85 files.
  await Promise.all(
    Array.from({ length: 6 }, async () => {
      for (let f = queue.shift(); f; f = queue.shift()) await fetchVerified(f);
    }),
  );
  fs.writeFileSync(MARKER, `${new Date().toISOString()}\n`);
  return DYNAMODB_LOCAL_DIR;
}

async function fetchVerified(f: Lock['files'][number]) {
  const target = path.join(DYNAMODB_LOCAL_DIR, f.file);
  // Kept from an interrupted install if intact.
  if (fs.existsSync(target) && sha256(fs.readFileSync(target)) === f.sha256) return;
  const url = `${lock.repository}/${f.path}`;
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  const body = Buffer.from(await res.arrayBuffer());
  const actual = sha256(body);
  if (actual !== f.sha256) throw new Error(`${url}: sha256 ${actual}, expected ${f.sha256} (lock file)`);
  fs.writeFileSync(`${target}.part`, body);
  fs.renameSync(`${target}.part`, target);
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

export interface DynamoDbLocalOptions {
  /** keep tables in this folder across restarts (-dbPath); in memory when unset */
  dataDir?: string;
  progress?: Progress;
}

/**
 * Starts DynamoDB Local on a free port of 127.0.0.1 and resolves once it answers ListTables.
 * -sharedDb: one database whatever region and credentials the clients sign with.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<Emulator> {
  const progress = options.progress ?? quiet;
  const dir = await installDynamoDbLocal(progress);
  const port = await freePort();
  const storage = options.dataDir ? ['-dbPath', path.resolve(options.dataDir)] : ['-inMemory'];
  if (options.dataDir) fs.mkdirSync(options.dataDir, { recursive: true });
  progress(
    `starting DynamoDB Local ${DYNAMODB_LOCAL_VERSION} on port ${port}` +
      (options.dataDir ? ` (data in ${options.dataDir})` : ' (in memory)'),
  );
  const classpath = ['DynamoDBLocal.jar', path.join('DynamoDBLocal_lib', '*')].join(path.delimiter);
  const child = spawn(
    'java',
    [
      '-Djava.library.path=DynamoDBLocal_lib',
      '-cp',
      classpath,
      LAUNCHER,
      ...storage,
      '-sharedDb',
      '-disableTelemetry',
      '-port',
      String(port),
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  process.once('exit', () => child.kill('SIGKILL'));
  // 127.0.0.1, not localhost: it listens on IPv4 loopback only.
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  while (!(await dynamoDbAnswers(endpoint))) {
    if (child.exitCode !== null) throw new Error(`DynamoDB Local exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`DynamoDB Local did not answer within 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { endpoint, pid: child.pid!, stop: () => stopChild(child) };
}

/** ListTables, unsigned but for a dummy Authorization header: DynamoDB Local (and LocalStack, which
 * serves DynamoDB through it) checks none of it. Whether DynamoDB answers at `endpoint` yet. */
export async function dynamoDbAnswers(endpoint: string): Promise<boolean> {
  try {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        authorization:
          'AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: '{}',
    });
    return res.ok;
  } catch {
    return false; // not listening yet
  }
}
