import { describe, expect, it } from 'vitest';
import {
  auditDataOf,
  citesOnly,
  type DeletionRecord,
  deletionIdOf,
  deletionStatusSchema,
  nextStep,
  sessionSteps,
  statusBodyOf,
  stepsOf,
  userSteps,
  withoutSession,
} from '../../lambdas/domain/deletion';

const record: DeletionRecord = {
  id: deletionIdOf('t', 'user', 'u-1'),
  tenantId: 't',
  kind: 'user',
  status: 'done',
  pass: 2,
  step: 'recall',
  target: { userId: 'u-1' },
  sessionIds: ['s-2', 's-1'],
  counts: { sessions: 2, events: 40 },
  factsUpdated: 1,
  createdAt: '2026-11-25T06:00:00.000Z',
  updatedAt: '2026-11-25T06:00:01.000Z',
};

describe('deletion plan', () => {
  it('derives one id per tenant, kind and target', () => {
    expect(deletionIdOf('t', 'user', 'u-1')).toBe(record.id);
    expect(record.id).toMatch(/^del-[0-9a-f]{32}$/);
    expect(deletionIdOf('t2', 'user', 'u-1')).not.toBe(record.id);
    expect(deletionIdOf('t', 'session', 'u-1')).not.toBe(record.id);
  });

  it('orders the steps: what points at content first, the log and the item last', () => {
    expect(sessionSteps.at(0)).toBe('tombstone');
    expect(sessionSteps.slice(-2)).toEqual(['events', 'session']);
    expect(stepsOf('user')).toBe(userSteps);
    expect(nextStep('session', 'tombstone')).toBe('cache');
    expect(nextStep('session', 'session')).toBeNull();
    expect(nextStep('fact', 'facts')).toBeNull();
  });

  it('tells a fact standing on one session alone from one backed by others', () => {
    expect(
      citesOnly(
        [
          { sessionId: 's-1', seq: 1 },
          { sessionId: 's-1', seq: 4 },
        ],
        's-1',
      ),
    ).toBe(true);
    expect(citesOnly([{ sessionId: 's-1' }, { ref: 'doc-9' }], 's-1')).toBe(true);
    expect(citesOnly([{ sessionId: 's-1' }, { sessionId: 's-2' }], 's-1')).toBe(false);
    expect(citesOnly([{ sessionId: 's-2' }], 's-1')).toBe(false);
    expect(citesOnly([], 's-1')).toBe(false);
    expect(withoutSession([{ sessionId: 's-1' }, { sessionId: 's-2', seq: 3 }], 's-1')).toEqual([
      { sessionId: 's-2', seq: 3 },
    ]);
  });

  it('writes an audit event of ids and counts, and a status that matches its schema', () => {
    const audit = auditDataOf(record, '2026-11-25T06:00:02.000Z');
    expect(audit).toEqual({
      deletionId: record.id,
      kind: 'user',
      userId: 'u-1',
      sessionIds: ['s-1', 's-2'],
      counts: { sessions: 2, events: 40 },
      factsUpdated: 1,
      requestedAt: record.createdAt,
      completedAt: '2026-11-25T06:00:02.000Z',
    });
    const body = statusBodyOf({ ...record, sessionIds: undefined, sessionsDeleted: 2, auditSeq: 7 });
    expect(deletionStatusSchema.parse(body)).toEqual(body);
    expect(body).toMatchObject({ itemsRemoved: 42, sessionsDeleted: 2, auditSeq: 7 });
  });
});
