import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { installDynamoDbLocal } from './dynamodb-local';
import { type Emulator, freePort, pipInstall, run, stopChild } from './processes';

/**
 * The embedded emulator for SQS and SSM (and everything `cdk deploy` touches): moto in server mode,
 * all services on their real wire protocols on one port, installed once, pinned, into the project's
 * own virtualenv. DynamoDB comes from DynamoDB Local (dynamodb-local.ts): moto's DynamoDB copies its
 * tables on every transaction and does not hold conditional writes atomic under concurrency.
 */
export const MOTO_VERSION = '5.2.5';
const ROOT = path.join(__dirname, '..');
const VENV = path.join(ROOT, '.venv');
const PYTHON = path.join(VENV, 'bin', 'python');
const MARKER = path.join(VENV, `.moto-${MOTO_VERSION}`);

type Progress = (message: string) => void;
const quiet: Progress = () => {};

/** Creates .venv and installs moto[server] into it, unless this exact version is already there. */
export function installEmulator(progress: Progress = quiet): string {
  if (fs.existsSync(MARKER)) return PYTHON;
  const python = process.env.PYTHON ?? 'python3';
  // A venv whose creation failed half-way (no python3-venv: no pip in it) is made again, not reused.
  if (
    !fs.existsSync(PYTHON) ||
    spawnSync(PYTHON, ['-m', 'pip', '--version'], { stdio: 'ignore' }).status !== 0
  ) {
    progress(`creating virtualenv ${path.relative(ROOT, VENV)} with ${python}`);
    fs.rmSync(VENV, { recursive: true, force: true });
    run(python, ['-m', 'venv', VENV], 'on Debian/Ubuntu: apt-get install python3-venv');
  }
  progress(`installing moto[server]==${MOTO_VERSION} into .venv (once; takes a minute)`);
  pipInstall(PYTHON, [`moto[server]==${MOTO_VERSION}`]);
  fs.writeFileSync(MARKER, `${new Date().toISOString()}\n`);
  return PYTHON;
}

/**
 * Python tools of the developer-facing tests (test/dx), pinned: the generator of the Python client and
 * the schema fuzzer. Same virtualenv as moto (pip found no conflict with moto's dependencies); setuptools
 * builds the generated client, and Python >= 3.12 no longer puts it in a new virtualenv.
 */
export const DX_TOOLS = ['openapi-python-client==0.29.1', 'schemathesis==4.32.5', 'setuptools==80.9.0'];
const DX_MARKER = path.join(VENV, `.dx-${DX_TOOLS.join('_')}`);

/**
 * Installs DX_TOOLS into .venv (and moto first, if needed) unless these versions are there; returns
 * .venv/bin. Test files run in parallel and may both ask on a fresh clone: one installs (a lock
 * directory, taken over after 10 minutes), the others wait for its marker.
 */
export function installDxTools(progress: Progress = quiet): string {
  installEmulator(progress);
  const lock = `${DX_MARKER}.lock`;
  const pause = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  while (!fs.existsSync(DX_MARKER)) {
    try {
      fs.mkdirSync(lock);
    } catch {
      // Held by another process (or just released: then try again at once).
      const held = fs.statSync(lock, { throwIfNoEntry: false });
      if (held && Date.now() - held.mtimeMs > 600_000) fs.rmSync(lock, { recursive: true, force: true });
      else if (held) pause(500);
      continue;
    }
    try {
      if (!fs.existsSync(DX_MARKER)) {
        progress(`installing ${DX_TOOLS.join(', ')} into .venv (once)`);
        pipInstall(PYTHON, DX_TOOLS);
        fs.writeFileSync(DX_MARKER, `${new Date().toISOString()}\n`);
      }
    } finally {
      fs.rmSync(lock, { recursive: true, force: true });
    }
  }
  return path.dirname(PYTHON);
}

/** Starts moto on a free loopback port and resolves once it answers. */
export async function startEmulator(progress: Progress = quiet): Promise<Emulator> {
  const python = installEmulator(progress);
  const port = await freePort();
  progress(`starting moto ${MOTO_VERSION} on port ${port}`);
  const child = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  // localhost, not 127.0.0.1: moto reads path-style S3 URLs (cdk deploy's templates) only on localhost.
  const endpoint = `http://localhost:${port}`;
  await waitUntilReady(endpoint, child, () => stderr);
  const stop = () => stopChild(child);
  // Never leave an emulator behind, whatever way this process ends.
  process.once('exit', () => child.kill('SIGKILL'));
  return { endpoint, pid: child.pid!, stop };
}

async function waitUntilReady(endpoint: string, child: ChildProcess, stderr: () => string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto exited with ${child.exitCode}: ${stderr()}`);
    try {
      const res = await fetch(`${endpoint}/moto-api/`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`moto did not answer within 30 s: ${stderr()}`);
}

/** `npm run emulator:install`: moto into .venv and the DynamoDB Local jars into .dynamodb-local. */
if (require.main === module && process.argv[2] === 'install') {
  const progress = (m: string) => console.error(m);
  installEmulator(progress);
  console.error(`moto ${MOTO_VERSION} is installed in .venv`);
  installDxTools(progress);
  console.error(`${DX_TOOLS.join(', ')} are installed in .venv (test/dx)`);
  installDynamoDbLocal(progress).then(
    (dir) => console.error(`DynamoDB Local is installed in ${path.relative(ROOT, dir)}`),
    (err: Error) => {
      console.error(err.message);
      process.exit(1);
    },
  );
}
