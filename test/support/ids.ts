import { randomUUID } from 'node:crypto';

/** Fresh ids per test: files share one emulator, and tenants keep their data apart. */
export const uniqueId = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
