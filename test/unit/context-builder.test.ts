import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../lambdas/domain/canonical-json';
import type {
  FactSearcher,
  PolicySelector,
  ProfileReader,
  SessionReader,
} from '../../lambdas/domain/context';
import { parseRouteRef } from '../../lambdas/domain/context';
import { type BuilderDeps, buildContext } from '../../lambdas/domain/context-builder';
import {
  InputTooLargeError,
  NotFoundError,
  StoreUnavailableError,
  ValidationError,
} from '../../lambdas/domain/errors';
import { fingerprintOf } from '../../lambdas/domain/fingerprint';
import { type Policy, type PolicyInput, policySchema } from '../../lambdas/domain/policy';
import { PolicyPins, type PolicySource } from '../../lambdas/domain/policy-pins';
import type { SessionState } from '../../lambdas/domain/session';

const counter = { count: (s: string) => Buffer.byteLength(s, 'utf8') };
const never = <T>() => new Promise<T>(() => {});

function session(version: number): SessionState {
  const turns = [1, 2, 3].map((seq) => ({
    seq,
    role: (seq % 2 ? 'user' : 'assistant') as 'user' | 'assistant',
    content: `turn ${seq} of v${version}`,
    tokens: 12,
    at: '2026-01-01T00:00:00Z',
  }));
  return {
    tenantId: 't1',
    sessionId: 's1',
    version,
    lastSeq: 3,
    recentTurns: turns,
    summary: null,
    tokenCounts: { total: 36, recent: 36, unsummarized: 36 },
    createdAt: '',
    updatedAt: '',
    expiresAt: 0,
  };
}

/** An in-memory policy source: route -> versions, labels -> version; counts reads. */
class FakePolicies implements PolicySource {
  versions: Policy[] = [];
  labels = new Map<string, number>();
  reads = 0;
  fail?: 'error' | 'hang';
  publish(p: Partial<PolicyInput> = {}) {
    this.versions.push(policySchema.parse({ systemPrompt: `prompt v${this.versions.length + 1}`, ...p }));
    return this.versions.length;
  }
  async get(route: string, selector: PolicySelector) {
    this.reads++;
    if (this.fail === 'error') throw new Error('ssm down');
    if (this.fail === 'hang') return never<never>();
    if (route !== 'support') throw new NotFoundError('route', route);
    const version =
      'version' in selector
        ? selector.version
        : 'label' in selector
          ? this.labels.get(selector.label)
          : this.versions.length;
    const policy = version ? this.versions[version - 1] : undefined;
    if (!version || !policy) throw new NotFoundError('route', route);
    return { route, version, policy };
  }
}

function setup(over: Partial<BuilderDeps> = {}) {
  const policies = new FakePolicies();
  policies.publish({ profile: { allow: ['plan', 'locale'] } });
  let state = session(1);
  const facts = [
    { id: 'f1', version: 1, text: 'Orders ship in 2 days.', tokens: 22, citations: [], pinned: false },
    {
      id: 'f2',
      version: 3,
      text: 'Refunds take 5 days.',
      tokens: 20,
      citations: [{ ref: 'm9' }],
      pinned: true,
    },
  ];
  const sessions: SessionReader = { get: async () => state };
  const factStore: FactSearcher = { search: async () => facts.map((fact, i) => ({ fact, score: 2 - i })) };
  const profiles: ProfileReader = {
    get: async (_t, userId) => ({
      userId,
      version: 4,
      lines: {
        locale: { text: 'locale: fr', tokens: 10 },
        plan: { text: 'plan: pro', tokens: 9 },
        secret: { text: 'secret: hunter2', tokens: 15 },
      },
    }),
  };
  const deps: BuilderDeps = {
    sessions,
    facts: factStore,
    profiles,
    recall: null,
    pins: new PolicyPins(policies, counter, { labelTtlMs: 30_000, deadlineMs: 100 }),
    tokens: counter,
    deadlineMs: 50,
    now: () => new Date('2026-01-02T00:00:00Z'),
    ...over,
  };
  return { deps, policies, facts, setSession: (v: number) => (state = session(v)) };
}

const req = { route: 'support', input: 'where is my order?', userId: 'u1' };

describe('buildContext()', () => {
  it('gives the same fingerprint and byte-identical messages for the same request on the same state', async () => {
    const { deps } = setup();
    const a = await buildContext(deps, 't1', 's1', req);
    const b = await buildContext(deps, 't1', 's1', req);
    expect(b.response.fingerprint).toBe(a.response.fingerprint);
    expect(JSON.stringify(b.response.messages)).toBe(JSON.stringify(a.response.messages));
    expect(a.response.degraded).toEqual([]);
    expect(a.response.policy).toEqual({ name: 'support', version: 1, ref: 'support' });
  });

  it('changes the fingerprint with the session version, and not with a question that retrieves the same facts', async () => {
    const { deps, setSession } = setup();
    const a = await buildContext(deps, 't1', 's1', req);
    const other = await buildContext(deps, 't1', 's1', { ...req, input: 'and my refund?' });
    expect(other.response.fingerprint).toBe(a.response.fingerprint);
    setSession(2);
    const b = await buildContext(deps, 't1', 's1', req);
    expect(b.response.fingerprint).not.toBe(a.response.fingerprint);
    expect(b.response.sessionVersion).toBe(2);
  });

  it('sends only allow-listed profile attributes, in allow-list order', async () => {
    const { deps } = setup();
    const { response } = await buildContext(deps, 't1', 's1', req);
    expect(response.messages[0]!.content).toContain('## User profile\n- plan: pro\n- locale: fr');
    expect(JSON.stringify(response)).not.toContain('hunter2');
  });

  it('leaves out a store that misses its deadline or fails, and still answers', async () => {
    const slow = setup({ sessions: { get: () => never() } });
    const a = await buildContext(slow.deps, 't1', 's1', req);
    expect(a.response.degraded).toEqual(['session']);
    expect(a.response.sessionVersion).toBeNull();
    expect(a.response.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(a.stats.failures[0]).toMatchObject({ store: 'session', timedOut: true });
    // Partial state never shares a fingerprint: an answer cached for it cannot be served again.
    const b = await buildContext(slow.deps, 't1', 's1', req);
    expect(b.response.fingerprint).not.toBe(a.response.fingerprint);

    const failing = setup({ facts: { search: async () => Promise.reject(new Error('boom')) } });
    const c = await buildContext(failing.deps, 't1', 's1', req);
    expect(c.response.degraded).toEqual(['facts']);
    expect(c.response.messages[0]!.content).not.toContain('## Facts');
    expect(c.response.messages).toHaveLength(5);
  });

  it('requires the policy: unknown route 404, SSM failure or timeout 503', async () => {
    const { deps, policies } = setup();
    await expect(buildContext(deps, 't1', 's1', { ...req, route: 'billing' })).rejects.toThrow(NotFoundError);
    await expect(buildContext(deps, 't1', 's1', { ...req, route: 'support@9' })).rejects.toThrow(
      NotFoundError,
    );
    policies.fail = 'error';
    await expect(buildContext(deps, 't1', 's1', { ...req, route: 'support:prod' })).rejects.toThrow(
      StoreUnavailableError,
    );
    policies.fail = 'hang';
    await expect(buildContext(deps, 't1', 's1', { ...req, route: 'support@2' })).rejects.toThrow(
      StoreUnavailableError,
    );
  });

  it('clamps a budget above the policy and says so; refuses an input over its cap with 413', async () => {
    const { deps } = setup();
    const { response } = await buildContext(deps, 't1', 's1', {
      ...req,
      budget: { facts: 99_999, history: 10 },
    });
    expect(response.clamped).toEqual([{ source: 'facts', requested: 99_999, cap: 1500 }]);
    expect(response.budget.history).toBe(10);
    expect(response.sections.find((s) => s.source === 'history')).toMatchObject({ tokens: 0, items: 0 });
    await expect(buildContext(deps, 't1', 's1', { ...req, budget: { input: 5 } })).rejects.toThrow(
      InputTooLargeError,
    );
  });
});

describe('PolicyPins', () => {
  it('caches a version for good and re-resolves a label after its TTL', async () => {
    const policies = new FakePolicies();
    policies.publish();
    policies.labels.set('prod', 1);
    let now = 0;
    const pins = new PolicyPins(policies, counter, { labelTtlMs: 1000, deadlineMs: 100, now: () => now });
    const label = { name: 'support', selector: { label: 'prod' } };
    expect((await pins.resolve(label)).resolved.version).toBe(1);
    policies.labels.set('prod', policies.publish());
    now = 999;
    expect(await pins.resolve(label)).toMatchObject({ cached: true, resolved: { version: 1 } });
    now = 1001;
    expect(await pins.resolve(label)).toMatchObject({
      cached: false,
      resolved: { version: 2, systemTokens: 9 },
    });

    const pinned = { name: 'support', selector: { version: 1 } };
    const reads = policies.reads;
    now = 10_000_000;
    expect(await pins.resolve(pinned)).toMatchObject({ cached: true, resolved: { version: 1 } });
    expect(policies.reads).toBe(reads);
  });

  it('shares one read between concurrent misses', async () => {
    const policies = new FakePolicies();
    policies.publish();
    const pins = new PolicyPins(policies, counter, { labelTtlMs: 1000, deadlineMs: 100 });
    const ref = { name: 'support', selector: { latest: true as const } };
    await Promise.all([pins.resolve(ref), pins.resolve(ref), pins.resolve(ref)]);
    expect(policies.reads).toBe(1);
  });
});

describe('route references and fingerprints', () => {
  it('parses name, name@version and name:label, and names the field when bad', () => {
    expect(parseRouteRef('support')).toEqual({ name: 'support', selector: { latest: true } });
    expect(parseRouteRef('support@12')).toEqual({ name: 'support', selector: { version: 12 } });
    expect(parseRouteRef('support:prod')).toEqual({ name: 'support', selector: { label: 'prod' } });
    for (const bad of ['Support', 'support@x', 'support:1abc', 'support@0', 'a@1:b']) {
      expect(() => parseRouteRef(bad), bad).toThrow(ValidationError);
    }
  });

  it('hashes a canonical JSON: key order does not matter, every state part does', () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: null }] })).toBe('{"a":[{"c":null,"d":2}],"b":1}');
    const base = {
      tenantId: 't1',
      sessionId: 's1',
      sessionVersion: 3,
      summaryWatermark: 0,
      facts: [{ id: 'f1', version: 1 }],
      recall: ['s1#4'],
      userId: 'u1',
      profileVersion: 2,
      policy: { route: 'support', version: 1 },
      budget: { total: 1, system: 1, summary: 1, history: 1, facts: 1, profile: 1, recall: 1, input: 1 },
      degraded: [],
    };
    const fp = fingerprintOf(base);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(fingerprintOf({ ...base, budget: { ...base.budget } })).toBe(fp);
    for (const change of [
      { sessionVersion: 4 },
      { summaryWatermark: 2 },
      { facts: [{ id: 'f1', version: 2 }] },
      { recall: ['s1#4', 's1#5'] },
      { profileVersion: 3 },
      { policy: { route: 'support', version: 2 } },
      { budget: { ...base.budget, facts: 0 } },
      { sessionId: 's2' },
      { userId: 'u2' },
    ]) {
      expect(fingerprintOf({ ...base, ...change }), JSON.stringify(change)).not.toBe(fp);
    }
  });
});
