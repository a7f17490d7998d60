import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { entryOf, functionNames } from '../lambdas/routes';

/**
 * Bundle size and cold-import time of each Lambda handler, bundled as the construct's NodejsFunction
 * does (esbuild, minified, CJS, node24 target, the AWS SDK left to the runtime). Cold import = a new
 * Node process requiring the bundle, median of several runs; the SDK resolves from node_modules here.
 */
const ROOT = path.join(__dirname, '..');
const RUNS = 7;

export function measureBundles() {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'cp-bundles-'));
  const rows: { handler: string; bytes: number; coldImportMs: number }[] = [];
  for (const fn of ['authorizer', ...functionNames]) {
    const entry = path.join(ROOT, entryOf(fn));
    if (!fs.existsSync(entry)) continue;
    const outfile = path.join(out, fn, 'index.js');
    buildSync({
      entryPoints: [entry],
      outfile,
      bundle: true,
      minify: true,
      platform: 'node',
      target: 'node24',
      format: 'cjs',
      external: ['@aws-sdk/*'],
      logLevel: 'error',
    });
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const ms = execFileSync(
        process.execPath,
        [
          '-e',
          `const t=performance.now();require(${JSON.stringify(outfile)});console.log(performance.now()-t)`,
        ],
        { env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') }, encoding: 'utf8' },
      );
      times.push(Number.parseFloat(ms));
    }
    times.sort((a, b) => a - b);
    rows.push({ handler: fn, bytes: fs.statSync(outfile).size, coldImportMs: times[Math.floor(RUNS / 2)]! });
  }
  fs.rmSync(out, { recursive: true, force: true });
  return rows;
}

if (require.main === module) {
  console.log('handler        bundle (KiB)   cold import (ms, median of 7)');
  for (const r of measureBundles()) {
    console.log(
      `${r.handler.padEnd(14)} ${(r.bytes / 1024).toFixed(1).padStart(12)}   ${r.coldImportMs.toFixed(1).padStart(8)}`,
    );
  }
}
