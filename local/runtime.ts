import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { AppError } from '../lambdas/domain/errors';
import { tenantIdSchema } from '../lambdas/domain/ids';
import { entryOf, queueConsumers } from '../lambdas/routes';
import { apiKeyPattern, TenantStore } from '../lambdas/stores/tenant-store';
import { checkJava, startDynamoDbLocal } from './dynamodb-local';
import { startEmulator } from './emulator';
import { type Poller, startPoller } from './poller';
import { provision, synthTemplate } from './provision';
import { createApiServer } from './server';

/** The local runtime as a library: `npm start` and the end-to-end tests both use it. */

export const DEFAULT_TENANTS = 'demo:cp_local_demo_key';
const ROOT = path.join(__dirname, '..');
/** Overridable so tests never clobber the state file of a developer's running `npm start`. */
export const STATE_FILE =
  process.env.CONTEXT_PLANE_STATE_FILE ?? path.join(ROOT, '.context-plane', 'local.json');

/** What the CLI needs to reach the environment a running `npm start` serves. */
export interface LocalState {
  endpoints: Endpoints;
  region: string;
  url: string;
  pid: number;
  environment: Record<string, string>;
}

export interface LocalRuntime {
  url: string;
  endpoints: Endpoints;
  tenants: { name: string; key: string }[];
  stop(): Promise<void>;
}

export interface LocalOptions {
  port?: number;
  tenants?: string;
  progress?: (message: string) => void;
  /** write .context-plane/local.json for the CLI (npm start does; tests need not) */
  writeState?: boolean;
}

/**
 * The endpoint variables the AWS SDK reads itself: AWS_ENDPOINT_URL for every service, and
 * AWS_ENDPOINT_URL_<SERVICE> (DYNAMODB, SQS, SSM) winning over it for one service.
 */
export type Endpoints = Record<string, string>;

/** The endpoint variables set in this process's environment. */
function configuredEndpoints(): Endpoints {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      (e): e is [string, string] => /^AWS_ENDPOINT_URL(_[A-Z0-9_]+)?$/.test(e[0]) && !!e[1],
    ),
  );
}

/** Points the AWS SDK at the emulators with dummy credentials, unless the caller configured them. */
export function useEndpoints(endpoints: Endpoints) {
  Object.assign(process.env, endpoints);
  process.env.AWS_REGION ??= 'us-east-1';
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
}

export interface LocalAws {
  endpoints: Endpoints;
  /** the handlers' environment, resolved from the template against what was provisioned */
  environment: Record<string, string>;
  /** stops the emulators this call started */
  stop(): Promise<void>;
}

/**
 * AWS for a local process (npm start, the test run, the benchmarks), provisioned from the
 * synthesized template. With AWS_ENDPOINT_URL set (LocalStack, a moto of your own) that is used, with
 * any AWS_ENDPOINT_URL_<SERVICE> beside it; otherwise this starts, in parallel, DynamoDB Local for
 * DynamoDB (unless AWS_ENDPOINT_URL_DYNAMODB is set) and moto for SQS and SSM.
 * CONTEXT_PLANE_DATA_DIR keeps DynamoDB Local's tables on disk across restarts (moto keeps nothing).
 */
export async function localAws(progress: (message: string) => void = () => {}): Promise<LocalAws> {
  const given = !!process.env.AWS_ENDPOINT_URL;
  const wantsDynamoDbLocal = !given && !process.env.AWS_ENDPOINT_URL_DYNAMODB;
  if (wantsDynamoDbLocal) checkJava(); // before anything starts: one line on what to install
  const started = await Promise.allSettled([
    given ? undefined : startEmulator(progress),
    wantsDynamoDbLocal
      ? startDynamoDbLocal({ dataDir: process.env.CONTEXT_PLANE_DATA_DIR || undefined, progress })
      : undefined,
  ]);
  const [moto, dynamodb] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  const stop = async () => {
    await Promise.all([moto?.stop(), dynamodb?.stop()]);
  };
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await stop();
    throw failed.reason;
  }
  if (moto) process.env.AWS_ENDPOINT_URL = moto.endpoint;
  if (dynamodb) process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamodb.endpoint;
  const endpoints = configuredEndpoints();
  useEndpoints(endpoints);
  try {
    progress('synthesizing the stack and creating its tables, queues and parameters');
    return { endpoints, environment: await provision(synthTemplate()), stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

export async function startLocal(options: LocalOptions = {}): Promise<LocalRuntime> {
  const progress = options.progress ?? (() => {});
  const aws = await localAws(progress);
  const { endpoints, environment } = aws;
  // Local defaults: quiet logs and no EMF on stdout, unless asked for.
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';

  try {
    for (const [name, value] of Object.entries(environment)) {
      // Resource names always come from the template; a tuning setting you exported (CP_*_MS,
      // CP_*_SECONDS) wins over the template's default.
      const isSetting = /_(MS|SECONDS)$/.test(name);
      if (!isSetting || process.env[name] === undefined) process.env[name] = value;
    }

    const tenants = await seedTenants(
      options.tenants ?? process.env.CONTEXT_PLANE_TENANTS ?? DEFAULT_TENANTS,
    );
    const pollers: Poller[] = queueConsumers.map((c) => {
      const handler = require(path.join(ROOT, entryOf(c.fn))).handler as (
        e: SQSEvent,
        ctx: Context,
      ) => Promise<SQSBatchResponse>;
      return startPoller({ queueUrl: environment[c.queueEnv]!, handler, onError: (e) => console.error(e) });
    });

    const server = createApiServer();
    await new Promise<void>((resolve) => server.listen(options.port ?? 3000, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

    if (options.writeState) {
      const state: LocalState = {
        endpoints,
        region: process.env.AWS_REGION!,
        url,
        pid: process.pid,
        environment,
      };
      fs.mkdirSync(path.dirname(STATE_FILE), { recursive: true });
      fs.writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`);
    }

    return {
      url,
      endpoints,
      tenants,
      async stop() {
        await Promise.all(pollers.map((p) => p.stop()));
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        if (options.writeState) fs.rmSync(STATE_FILE, { force: true });
        await aws.stop();
      },
    };
  } catch (err) {
    await aws.stop();
    throw err;
  }
}

/** `name:key,name:key` → tenants that exist with those keys (kept if they already do). */
async function seedTenants(spec: string) {
  const store = new TenantStore();
  const tenants = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((pair) => {
      const i = pair.indexOf(':');
      if (i <= 0) throw new Error(`CONTEXT_PLANE_TENANTS: '${pair}' is not name:key`);
      const tenant = { name: pair.slice(0, i), key: pair.slice(i + 1) };
      // Refuse at start-up what would otherwise fail every request (key) or every job (name) later.
      if (!tenantIdSchema.safeParse(tenant.name).success) {
        throw new Error(
          `CONTEXT_PLANE_TENANTS: tenant name '${tenant.name}' must be lowercase letters, digits and -`,
        );
      }
      if (!apiKeyPattern.test(tenant.key)) {
        throw new Error(
          `CONTEXT_PLANE_TENANTS: the key of '${tenant.name}' must be 8-256 characters, no spaces`,
        );
      }
      return tenant;
    });
  for (const t of tenants) {
    try {
      await store.create(t.name, t.key);
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'tenant_exists')) throw err;
      if ((await store.tenantOfKey(t.key)) !== t.name) {
        throw new Error(`tenant '${t.name}' exists with another key; pick another name or key`);
      }
    }
  }
  return tenants;
}
