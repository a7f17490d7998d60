import { defineConfig } from 'vitest/config';

// The AWS SDK warns once per process that it will need Node 22 from 2027; Lambdas run Node 24, and
// the README states the local minimum. Keep local output readable.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/**
 * One run, four kinds of test. Integration and e2e talk to real emulators over the wire: the global
 * setup starts DynamoDB Local and moto (or uses AWS_ENDPOINT_URL) and provisions them from the
 * synthesized template once.
 */
export default defineConfig({
  test: {
    globalSetup: ['test/support/global-setup.ts'],
    setupFiles: ['test/support/env.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'] } },
      { extends: true, test: { name: 'infra', include: ['test/infra/**/*.test.ts'], testTimeout: 120_000 } },
      { extends: true, test: { name: 'e2e', include: ['test/e2e/**/*.test.ts'], testTimeout: 120_000 } },
      // Developer-facing contract: the OpenAPI spec, the generated clients, schema fuzzing and the
      // inspector page in a browser. Run once against DynamoDB Local, not again in the LocalStack pass.
      {
        extends: true,
        test: { name: 'dx', include: ['test/dx/**/*.test.ts'], testTimeout: 300_000 },
      },
    ],
  },
});
