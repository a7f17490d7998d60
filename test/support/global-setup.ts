import type { TestProject } from 'vitest/node';
import { type Emulator, startEmulator } from '../../local/emulator';
import { provision, synthTemplate } from '../../local/provision';
import { useEndpoint } from '../../local/runtime';

declare module 'vitest' {
  export interface ProvidedContext {
    awsEnv: Record<string, string>;
  }
}

/** Starts moto once for the whole run (unless AWS_ENDPOINT_URL points elsewhere) and provisions it. */
export default async function setup(project: TestProject) {
  let emulator: Emulator | undefined;
  if (!process.env.AWS_ENDPOINT_URL) emulator = await startEmulator((m) => console.log(`[emulator] ${m}`));
  useEndpoint(process.env.AWS_ENDPOINT_URL ?? emulator!.endpoint);
  let environment: Record<string, string>;
  try {
    environment = await provision(synthTemplate());
  } catch (err) {
    await emulator?.stop();
    throw err;
  }
  project.provide('awsEnv', {
    ...environment,
    AWS_ENDPOINT_URL: process.env.AWS_ENDPOINT_URL!,
    AWS_REGION: process.env.AWS_REGION!,
    AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID!,
    AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY!,
    POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? 'ERROR',
    POWERTOOLS_METRICS_DISABLED: 'true',
  });
  return async () => {
    await emulator?.stop();
  };
}
