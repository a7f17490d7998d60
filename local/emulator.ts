import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/**
 * The embedded AWS emulator: moto in server mode (DynamoDB, SQS and SSM on their real wire protocols,
 * one process, one port), installed once, pinned, into the project's own virtualenv.
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
  run(PYTHON, [
    '-m',
    'pip',
    'install',
    '--quiet',
    '--disable-pip-version-check',
    `moto[server]==${MOTO_VERSION}`,
  ]);
  fs.writeFileSync(MARKER, `${new Date().toISOString()}\n`);
  return PYTHON;
}

function run(cmd: string, args: string[], hint = '') {
  const out = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (out.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed with exit code ${out.status}${hint ? ` (${hint})` : ''}`,
    );
  }
}

export interface Emulator {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * moto's threaded server checks a DynamoDB condition and writes without a lock, so two concurrent
 * conditional writes can both succeed (measured: up to 5 of 20 claims won). DynamoDB applies each
 * item write atomically; serializing DynamoDB writes restores that. Reads and SQS long polls stay concurrent.
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

/** Starts moto on a free loopback port and resolves once it answers. */
export async function startEmulator(progress: Progress = quiet): Promise<Emulator> {
  const python = installEmulator(progress);
  const port = await freePort();
  progress(`starting moto ${MOTO_VERSION} on port ${port}`);
  const child = spawn(python, ['-c', SERIALIZED_DYNAMODB, '-H', '127.0.0.1', '-p', String(port)], {
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
  return { endpoint, stop };
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

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Clears every service's state (~10 ms); cheaper than a new process between test files. */
export async function resetEmulator(endpoint: string): Promise<void> {
  const res = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
  if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
}

if (require.main === module && process.argv[2] === 'install') {
  installEmulator((m) => console.error(m));
  console.error(`moto ${MOTO_VERSION} is installed in .venv`);
}
