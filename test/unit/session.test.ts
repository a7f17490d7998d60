import { describe, expect, it } from 'vitest';
import { appendTurns, replay, type SessionState, sessionLimits } from '../../lambdas/domain/session';

const ref = { tenantId: 't1', sessionId: 's1' };
const at = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
const turn = (content: string, tokens = 3) => ({ role: 'user' as const, content, tokens });

describe('appendTurns', () => {
  it('creates a session at version 1 with one event per turn and consecutive seqs', () => {
    const { state, events } = appendTurns(null, ref, {
      turns: [turn('a'), turn('b', 5)],
      at: at(0),
      ttlSeconds: 60,
    });
    expect(state.version).toBe(1);
    expect(events.map((e) => e.seq)).toEqual([1, 2]);
    expect(state.lastSeq).toBe(2);
    expect(state.tokenCounts).toEqual({ total: 8, recent: 8, unsummarized: 8 });
    expect(state.expiresAt).toBe(Math.floor(Date.parse(at(0)) / 1000) + 60);
  });

  it('bumps the version once per append, however many turns', () => {
    let state: SessionState | null = null;
    for (let i = 0; i < 3; i++)
      state = appendTurns(state, ref, { turns: [turn('x'), turn('y')], at: at(i), ttlSeconds: 60 }).state;
    expect(state?.version).toBe(3);
    expect(state?.lastSeq).toBe(6);
  });

  it('keeps the item bounded: at most maxRecentTurns turns, while totals count every turn', () => {
    let state: SessionState | null = null;
    const n = sessionLimits.maxRecentTurns + 30;
    for (let i = 0; i < n; i++)
      state = appendTurns(state, ref, { turns: [turn(`turn ${i}`, 2)], at: at(i), ttlSeconds: 60 }).state;
    expect(state?.recentTurns).toHaveLength(sessionLimits.maxRecentTurns);
    expect(state?.recentTurns.at(-1)?.content).toBe(`turn ${n - 1}`);
    expect(state?.tokenCounts.total).toBe(2 * n);
    expect(state?.tokenCounts.recent).toBe(2 * sessionLimits.maxRecentTurns);
  });

  it('keeps the item under its byte bound with large turns', () => {
    let state: SessionState | null = null;
    const big = 'x'.repeat(sessionLimits.maxTurnBytes);
    for (let i = 0; i < 20; i++)
      state = appendTurns(state, ref, { turns: [turn(big, 1)], at: at(i), ttlSeconds: 60 }).state;
    const bytes = state!.recentTurns.reduce((n, t) => n + Buffer.byteLength(t.content), 0);
    expect(bytes).toBeLessThanOrEqual(sessionLimits.maxRecentBytes);
    expect(state!.recentTurns.length).toBe(
      Math.floor(sessionLimits.maxRecentBytes / sessionLimits.maxTurnBytes),
    );
  });
});

describe('replay', () => {
  it('rebuilds exactly the state the appends produced, from the events alone', () => {
    let state: SessionState | null = null;
    const log = [];
    for (let i = 0; i < 70; i++) {
      const out = appendTurns(state, ref, {
        turns: [turn(`q${i}`, i), turn(`a${i}`, 1)],
        at: at(i),
        ttlSeconds: 3600,
      });
      state = out.state;
      log.push(...out.events);
    }
    expect(replay(ref, log)).toEqual(state);
  });
});

describe('a session re-created after its item expired', () => {
  it('continues the log after the old events, and replay of the whole log gives the new session', () => {
    let old: SessionState | null = null;
    const log = [];
    for (let i = 0; i < 3; i++) {
      const out = appendTurns(old, ref, { turns: [turn(`old ${i}`)], at: at(i), ttlSeconds: 60 });
      old = out.state;
      log.push(...out.events);
    }
    // The item expired (TTL); its events did not. The app creates the session again.
    const created = appendTurns(null, ref, {
      turns: [turn('new a'), turn('new b')],
      at: at(10),
      ttlSeconds: 60,
      afterSeq: 3,
    });
    expect(created.events.map((e) => e.seq)).toEqual([4, 5]);
    expect(created.state.version).toBe(1);
    expect(replay(ref, [...log, ...created.events])).toEqual(created.state);
  });
});
