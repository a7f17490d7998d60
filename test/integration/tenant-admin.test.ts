import { describe, expect, it } from 'vitest';
import { dataTables } from '../../lambdas/config';
import { handler as factsHandler } from '../../lambdas/handlers/facts';
import { handler as profilesHandler } from '../../lambdas/handlers/profiles';
import { handler as sessionsHandler } from '../../lambdas/handlers/sessions';
import { TenantAdmin } from '../../lambdas/stores/tenant-admin';
import { TenantStore } from '../../lambdas/stores/tenant-store';
import { uniqueId } from '../support/ids';
import { invoke } from '../support/lambda-events';
import { ofTenant, scanAll } from '../support/table-scan';

/** The CLI's `tenant list` and `tenant delete NAME` (keys revoked first, then every table). */
async function seed(tenantId: string) {
  const key = await new TenantStore().create(tenantId);
  await invoke(sessionsHandler, {
    routeKey: 'POST /v1/sessions/{sessionId}/turns',
    tenantId,
    params: { sessionId: 's-1' },
    body: { expectedVersion: 0, turns: [{ role: 'user', content: 'hello there' }], userId: 'u-1' },
    headers: { 'idempotency-key': 'k-1' },
  });
  await invoke(factsHandler, {
    routeKey: 'POST /v1/facts',
    tenantId,
    body: { userId: 'u-1', text: 'Likes tea' },
  });
  await invoke(profilesHandler, {
    routeKey: 'PUT /v1/users/{userId}/profile',
    tenantId,
    params: { userId: 'u-1' },
    body: { expectedVersion: 0, attributes: { name: 'Ana' } },
  });
  return key;
}

describe('tenant admin', () => {
  it('lists tenants, and deletes one whole: its keys first, then its items in every table', async () => {
    const doomed = uniqueId('gone');
    const kept = uniqueId('kept');
    const doomedKey = await seed(doomed);
    await seed(kept);
    const admin = new TenantAdmin();
    const listed = await admin.list();
    expect(listed.find((t) => t.tenantId === doomed)).toMatchObject({ keys: 1 });
    const before = await scanAll();
    expect(ofTenant(before, doomed).length).toBeGreaterThan(8);

    expect(await admin.revokeKeys(doomed)).toBe(1);
    expect(await new TenantStore().tenantOfKey(doomedKey)).toBeNull();
    let removed = 0;
    for (const table of [...dataTables, 'tenantsTable' as const]) removed += await admin.purge(table, doomed);
    expect(removed).toBe(ofTenant(before, doomed).length);

    const after = await scanAll();
    expect(ofTenant(after, doomed)).toEqual([]);
    expect(after.filter((i) => i.json.includes(`"tenantId":"${doomed}"`))).toEqual([]);
    expect(ofTenant(after, kept)).toEqual(ofTenant(before, kept));
    expect((await admin.list()).map((t) => t.tenantId)).not.toContain(doomed);
  });
});
