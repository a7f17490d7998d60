import type { TestProject } from 'vitest/node';
import { localAws } from '../../local/runtime';

declare module 'vitest' {
  export interface ProvidedContext {
    awsEnv: Record<string, string>;
  }
}

/**
 * Starts the emulators once for the whole run (DynamoDB Local and moto, unless AWS_ENDPOINT_URL
 * points elsewhere) and provisions them; every test process gets the same endpoints.
 */
export default async function setup(project: TestProject) {
  const aws = await localAws((m) => console.log(`[emulator] ${m}`));
  project.provide('awsEnv', {
    ...aws.environment,
    ...aws.endpoints,
    AWS_REGION: process.env.AWS_REGION!,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID!,
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY!,
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  return aws.stop;
}
