import { type ChildProcess, spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

export interface Started {
  url: string;
  output: () => string;
  child: ChildProcess;
  /** sends the signal and resolves with the exit code */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Runs `npm start`'s entry point as its own process, the way a newcomer does, and waits until it serves. */
export async function startProcess(env: Record<string, string | undefined>): Promise<Started> {
  const child = spawn(
    process.execPath,
    [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'local/start.ts'],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: '0',
        CONTEXT_PLANE_STATE_FILE: path.join(os.tmpdir(), `cp-state-${process.pid}-${Date.now()}.json`),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm start did not come up:\n${output}`)), 90_000);
    const check = () => {
      const m = /listening on (http:\/\/[\d.:]+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
  });
  return {
    url,
    child,
    output: () => output,
    stop: async (signal = 'SIGTERM') => {
      child.kill(signal);
      return exited;
    },
  };
}
