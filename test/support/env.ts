import { inject } from 'vitest';

// Every test process talks to the emulator the global setup started and provisioned.
Object.assign(process.env, inject('awsEnv'));
