import { afterAll, beforeAll, expect } from 'vitest';
import { uniqueId } from './ids';
import { type Started, startProcess } from './start-process';

export interface Tenant {
  name: string;
  key: string;
}

export const newTenant = (prefix: string): Tenant => ({
  name: uniqueId(prefix),
  key: `key-${uniqueId('k')}`,
});

export interface CallOptions {
  /** the API key; undefined = the first tenant's, null = no Authorization header */
  key?: string | null;
  body?: unknown;
  /** a raw body, sent as is */
  raw?: string;
}

/**
 * `npm start`'s server for one test file, with the given tenants, started before its tests and
 * stopped (exit code 0 asserted) after them, plus a JSON client for it.
 */
export function useServer(tenants: Tenant[]) {
  let server: Started | undefined;
  beforeAll(async () => {
    server = await startProcess({
      CONTEXT_PLANE_TENANTS: tenants.map((t) => `${t.name}:${t.key}`).join(','),
    });
  }, 120_000);
  afterAll(async () => {
    if (server) expect(await server.stop()).toBe(0);
  });

  async function call(method: string, path: string, opts: CallOptions = {}) {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-correlation-id': 'test-corr-1',
    };
    const key = opts.key === undefined ? tenants[0]?.key : opts.key;
    if (key) headers.authorization = `Bearer ${key}`;
    const res = await fetch(`${server!.url}${path}`, {
      method,
      headers,
      body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  }
  return { call };
}
