import { describe, expect, it } from 'vitest';
import { VersionConflictError } from '../../lambdas/domain/errors';
import { profileSlice } from '../../lambdas/domain/profile';
import { ProfileStore } from '../../lambdas/stores/profile-store';
import { uniqueId } from '../support/ids';

const store = new ProfileStore();

describe('ProfileStore against the emulator', () => {
  it('creates with 0, replaces with CAS, and stores each line with its tokens', async () => {
    const tenant = uniqueId('t');
    const created = await store.put(tenant, 'u1', 0, { tier: 'pro', langs: ['en', 'de'], seats: 3 });
    expect(created.version).toBe(1);
    expect(created.lines.langs).toEqual({ text: 'langs: en, de', tokens: expect.any(Number) });
    expect(created.lines.langs!.tokens).toBeGreaterThan(0);
    const updated = await store.put(tenant, 'u1', 1, { tier: 'team', beta: true });
    expect(updated.version).toBe(2);
    const read = await store.get(tenant, 'u1');
    expect(read).toEqual(updated);
    expect(profileSlice(read!, ['beta', 'tier', 'seats']).map((s) => s.text)).toEqual([
      'beta: true',
      'tier: team',
    ]);
  });

  it('refuses a stale version with the current one, and a second create', async () => {
    const tenant = uniqueId('t');
    await store.put(tenant, 'u1', 0, { tier: 'pro' });
    await store.put(tenant, 'u1', 1, { tier: 'team' });
    const stale = store.put(tenant, 'u1', 1, { tier: 'free' });
    await expect(stale).rejects.toBeInstanceOf(VersionConflictError);
    await expect(stale).rejects.toMatchObject({ details: { currentVersion: 2 } });
    await expect(store.put(tenant, 'u1', 0, { tier: 'x' })).rejects.toMatchObject({
      details: { currentVersion: 2 },
    });
    await expect(store.put(tenant, 'nobody', 3, { tier: 'x' })).rejects.toMatchObject({
      details: { currentVersion: 0 },
    });
    expect((await store.get(tenant, 'u1'))?.attributes).toEqual({ tier: 'team' });
  });

  it("never reads another tenant's profile with the same user id", async () => {
    const a = uniqueId('t');
    const b = uniqueId('t');
    await store.put(a, 'u1', 0, { secret: 'a-only' });
    expect(await store.get(b, 'u1')).toBeNull();
    const own = await store.put(b, 'u1', 0, { secret: 'b-only' });
    expect(own.version).toBe(1);
    expect((await store.get(a, 'u1'))?.attributes).toEqual({ secret: 'a-only' });
  });
});
