import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { dynamoDbAnswers, installDynamoDbLocal, PrerequisiteError } from './dynamodb-local';
import { pipInstall, run } from './processes';

/**
 * `npm run localstack -- start|stop|test`: LocalStack's own runtime without Docker, on
 * 127.0.0.1:4566, from a pinned, git-ignored virtualenv. `test` runs the integration and e2e suites
 * against it (extra arguments go to vitest) and always stops it afterwards.
 */
const ROOT = path.join(__dirname, '..');
const VENV = path.join(ROOT, '.venv-localstack');
const PYTHON = path.join(VENV, 'bin', 'python');
const REQUIREMENTS = path.join(__dirname, 'localstack-requirements.txt');
/** LocalStack's filesystem root (state, cache, certificates), its log and the pid of the runtime. */
const HOME = path.join(ROOT, '.localstack');
const LOG = path.join(HOME, 'localstack.log');
const PID_FILE = path.join(HOME, 'localstack.pid');
export const LOCALSTACK_ENDPOINT = 'http://localhost:4566';
const HEALTH = 'http://127.0.0.1:4566/_localstack/health';

/** What is known to run LocalStack 2026.3.0 on the host, offline. */
const ENVIRONMENT = {
  OVERRIDE_IN_DOCKER: '0',
  GATEWAY_SERVER: 'hypercorn',
  GATEWAY_LISTEN: '127.0.0.1:4566',
  LOCALSTACK_HOST: 'localhost:4566',
  SQS_ENDPOINT_STRATEGY: 'dynamic',
  DNS_ADDRESS: '0',
  SKIP_SSL_CERT_DOWNLOAD: '1',
  DISABLE_EVENTS: '1', // no analytics calls to an internet we do not have
  DYNAMODB_IN_MEMORY: '1', // a fresh start is a clean slate, as with the embedded emulators
  FILESYSTEM_ROOT: HOME,
};

/**
 * LocalStack would download DynamoDB Local (and a JDK for it) at first use, and add a patching agent
 * from GitHub. Instead: the project's pinned jars, the `java` on PATH (≥ 17, checked by the installer),
 * no agent (it only lifts the 20-GSI limit), and the project's launcher that binds to 127.0.0.1.
 */
const RUNTIME = `
import sys
from localstack.services.dynamodb import packages, server
jars, launcher = sys.argv[1:3]
del sys.argv[1:]
packages.DynamoDBLocalPackageInstaller.get_installed_dir = lambda self: jars
packages.DynamoDBLocalPackageInstaller.get_java_env_vars = lambda self: {}
command = server.DynamodbServer._create_shell_command
def local_command(self):
    args = command(self)
    args = args[args.index('-jar') + 2:]
    classpath = f'{self.jar_path}:{self.library_path}/*'
    return ['java', f'-Xmx{self.heap_size}', f'-Djava.library.path={self.library_path}', '-cp', classpath, launcher, *args]
server.DynamodbServer._create_shell_command = local_command
from localstack.runtime.main import main
main()
`;

type Progress = (message: string) => void;

/** Python 3.13: localstack-core 2026.3.0 needs ≥ 3.12 to parse, and its package code ≥ 3.13 to import. */
function findPython(): string {
  const pyenv = path.join(process.env.PYENV_ROOT ?? path.join(os.homedir(), '.pyenv'), 'versions');
  const candidates = [
    process.env.LOCALSTACK_PYTHON,
    'python3.13',
    ...(fs.existsSync(pyenv)
      ? fs
          .readdirSync(pyenv)
          .filter((v) => v.startsWith('3.13'))
          .sort()
          .reverse()
      : []
    ).map((v) => path.join(pyenv, v, 'bin', 'python3.13')),
  ];
  for (const c of candidates) {
    if (!c) continue;
    const ok = spawnSync(c, ['-c', 'import sys; assert sys.version_info[:2] == (3, 13)'], {
      stdio: 'ignore',
    });
    if (ok.status === 0) return c;
  }
  throw new PrerequisiteError(
    'LocalStack needs Python 3.13 (python3.13 on PATH, or LOCALSTACK_PYTHON=/path/to/python3.13): e.g. pyenv install 3.13',
  );
}

/** Creates .venv-localstack from the hashed requirements, once per version of that file. */
export function installLocalStack(progress: Progress = () => {}): void {
  const requirements = fs.readFileSync(REQUIREMENTS);
  const marker = path.join(
    VENV,
    `.installed-${createHash('sha256').update(requirements).digest('hex').slice(0, 16)}`,
  );
  if (fs.existsSync(marker)) return;
  const python = findPython();
  progress(
    `installing localstack-core[runtime] into ${path.relative(ROOT, VENV)} with ${python} (once; ~1 min)`,
  );
  fs.rmSync(VENV, { recursive: true, force: true });
  run(python, ['-m', 'venv', VENV]);
  pipInstall(PYTHON, ['--require-hashes', '--no-deps', '-r', REQUIREMENTS]);
  fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
}

function runningPid(): number | undefined {
  const pid = Number(fs.existsSync(PID_FILE) ? fs.readFileSync(PID_FILE, 'utf8') : NaN);
  if (!pid) return undefined;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    fs.rmSync(PID_FILE, { force: true }); // stale: that process is gone
    return undefined;
  }
}

async function healthy(): Promise<boolean> {
  try {
    return (await fetch(HEALTH)).ok;
  } catch {
    return false;
  }
}

/** Starts LocalStack in the background; resolves once its DynamoDB answers. False if it already ran. */
export async function startLocalStack(progress: Progress = () => {}): Promise<boolean> {
  if (runningPid()) return false;
  if (await healthy()) throw new Error(`something else already serves LocalStack on 4566 (${HEALTH})`);
  installLocalStack(progress);
  const jars = await installDynamoDbLocal(progress);
  fs.mkdirSync(HOME, { recursive: true });
  const log = fs.openSync(LOG, 'w');
  // Its own process group, so that stop reaches the DynamoDB Local java it starts.
  const child = spawn(PYTHON, ['-c', RUNTIME, jars, path.join(__dirname, 'LoopbackLauncher.java')], {
    cwd: ROOT,
    env: { ...process.env, ...ENVIRONMENT },
    stdio: ['ignore', log, log],
    detached: true,
  });
  child.unref();
  fs.closeSync(log);
  fs.writeFileSync(PID_FILE, String(child.pid));
  progress(`starting LocalStack (pid ${child.pid}, log ${path.relative(ROOT, LOG)})`);
  const deadline = Date.now() + 120_000;
  // DynamoDB starts lazily, with DynamoDB Local behind it: ask it once so a broken Java shows here.
  while (!(await healthy()) || !(await dynamoDbAnswers(LOCALSTACK_ENDPOINT))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stopLocalStack();
      const tail = fs.readFileSync(LOG, 'utf8').split('\n').slice(-30).join('\n');
      throw new Error(`LocalStack did not come up (exit ${child.exitCode}):\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return true;
}

/** SIGTERM to the runtime (it stops its services), then SIGKILL to whatever is left of its group. */
export async function stopLocalStack(): Promise<void> {
  const pid = runningPid();
  if (pid) {
    process.kill(pid, 'SIGTERM');
    const deadline = Date.now() + 20_000;
    while (runningPid() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
  fs.rmSync(PID_FILE, { force: true });
}

/** The integration and e2e suites against LocalStack; returns their exit code. */
async function test(vitestArgs: string[]): Promise<number> {
  const started = await startLocalStack((m) => console.error(m));
  if (!started) console.error('using the LocalStack that is already running (left running)');
  try {
    // Everything to LocalStack: no per-service endpoint from the caller's shell.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith('AWS_ENDPOINT_URL_')),
    );
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'node_modules/vitest/vitest.mjs'),
        'run',
        '--project',
        'integration',
        '--project',
        'e2e',
        ...vitestArgs,
      ],
      { cwd: ROOT, env: { ...env, AWS_ENDPOINT_URL: LOCALSTACK_ENDPOINT }, stdio: 'inherit' },
    );
    // Ctrl-C reaches vitest too; wait for it, then stop LocalStack.
    const ignore = () => {};
    process.on('SIGINT', ignore).on('SIGTERM', ignore);
    return await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 1)));
  } finally {
    if (started) await stopLocalStack();
  }
}

async function main(command: string | undefined, args: string[]): Promise<number> {
  switch (command) {
    case 'start':
      if (!(await startLocalStack((m) => console.error(m)))) console.error('LocalStack is already running');
      console.error(
        `LocalStack serves ${LOCALSTACK_ENDPOINT}: AWS_ENDPOINT_URL=${LOCALSTACK_ENDPOINT} npm start`,
      );
      return 0;
    case 'stop':
      await stopLocalStack();
      return 0;
    case 'test':
      return test(args);
    default:
      console.error('usage: npm run localstack -- start|stop|test [vitest arguments]');
      return 2;
  }
}

if (require.main === module) {
  main(process.argv[2], process.argv.slice(3)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof PrerequisiteError ? err.message : err);
      process.exit(1);
    },
  );
}
