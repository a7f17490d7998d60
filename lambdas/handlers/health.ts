import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { GetParametersByPathCommand } from '@aws-sdk/client-ssm';
import { type EnvKey, envNames } from '../config';
import { httpApi } from '../http/middleware';
import { logger } from '../http/observability';
import { dynamo, sqsClient, ssmClient } from '../stores/clients';

const PROBE_TIMEOUT_MS = 2000;

/** One cheap call per store this deployment configures, each under a deadline. */
function probes(): Record<string, () => Promise<unknown>> {
  const out: Record<string, () => Promise<unknown>> = {};
  for (const key of Object.keys(envNames) as EnvKey[]) {
    const value = process.env[envNames[key]];
    if (!value) continue;
    if (key.endsWith('Table')) {
      out[key] = () => dynamo().send(new DescribeTableCommand({ TableName: value }));
    } else if (key.endsWith('QueueUrl')) {
      out[key] = () =>
        sqsClient().send(new GetQueueAttributesCommand({ QueueUrl: value, AttributeNames: ['QueueArn'] }));
    } else if (key === 'policyPrefix') {
      out.policies = () => ssmClient().send(new GetParametersByPathCommand({ Path: value, MaxResults: 1 }));
    }
  }
  return out;
}

/** Up or down, nothing more: a store's error can name the role, account or table (kept in the log). */
async function check(name: string, probe: () => Promise<unknown>): Promise<{ status: 'ok' | 'down' }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok' };
  } catch (err) {
    logger.warn('health probe failed', { store: name, error: err as Error });
    return { status: 'down' };
  } finally {
    clearTimeout(timer);
  }
}

export const handler = httpApi(
  {
    'GET /v1/health': async () => {
      const entries = await Promise.all(
        Object.entries(probes()).map(async ([name, probe]) => [name, await check(name, probe)] as const),
      );
      const stores = Object.fromEntries(entries);
      const ok = entries.every(([, s]) => s.status === 'ok');
      return {
        status: ok ? 200 : 503,
        body: { status: ok ? 'ok' : 'degraded', stores },
        ...(ok ? {} : { headers: { 'retry-after': '1' } }),
      };
    },
  },
  { public: true },
);
