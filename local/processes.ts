import { type ChildProcess, spawnSync } from 'node:child_process';
import * as net from 'node:net';

/** An emulator this process started: where it answers, its pid (for memory figures), how to stop it. */
export interface Emulator {
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

/** SIGTERM, then SIGKILL after 3 s; resolves once the child has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
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

export function freePort(): Promise<number> {
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

/** Runs a command to completion with its output shown; throws with `hint` when it fails. */
export function run(cmd: string, args: string[], hint = '') {
  const out = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] });
  if (out.status !== 0) {
    throw new Error(
      `${cmd} ${args.join(' ')} failed with exit code ${out.status}${hint ? ` (${hint})` : ''}`,
    );
  }
}

/** `pip install` into a virtualenv's python, quietly, without pip's version nag. */
export const pipInstall = (python: string, args: string[]) =>
  run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', ...args]);
