import { DeleteCommand, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { env } from '../../lambdas/config';
import { VersionConflictError } from '../../lambdas/domain/errors';
import {
  appendTurns,
  replay,
  type SessionEvent,
  type SessionRef,
  summarizedUpTo,
} from '../../lambdas/domain/session';
import { dynamo } from '../../lambdas/stores/clients';
import { keys } from '../../lambdas/stores/keys';
import { SessionStore } from '../../lambdas/stores/session-store';
import { uniqueId } from '../support/ids';

const store = new SessionStore();
const newRef = (): SessionRef => ({ tenantId: uniqueId('t'), sessionId: uniqueId('s') });
const append = (ref: SessionRef, expectedVersion: number, contents: string[]) =>
  store.commit(
    ref,
    (prev, logEnd) =>
      appendTurns(prev, ref, {
        turns: contents.map((content) => ({ role: 'user' as const, content, tokens: content.length })),
        at: new Date().toISOString(),
        ttlSeconds: 3600,
        afterSeq: logEnd,
      }),
    { expectedVersion },
  );

async function allEvents(ref: SessionRef): Promise<SessionEvent[]> {
  const out: SessionEvent[] = [];
  let after = 0;
  for (;;) {
    const page = await store.listEvents(ref, after, 7);
    out.push(...page.events);
    if (page.next === null) return out;
    after = page.next;
  }
}

describe('SessionStore against the emulator', () => {
  it('creates with expectedVersion 0, appends with CAS, and refuses a stale version with the current one', async () => {
    const ref = newRef();
    expect((await append(ref, 0, ['hello'])).version).toBe(1);
    expect((await append(ref, 1, ['again', 'twice'])).version).toBe(2);
    const stale = append(ref, 1, ['late']);
    await expect(stale).rejects.toBeInstanceOf(VersionConflictError);
    await expect(stale).rejects.toMatchObject({ details: { currentVersion: 2 } });
    await expect(append(ref, 0, ['recreate'])).rejects.toMatchObject({ details: { currentVersion: 2 } });
    const state = await store.get(ref);
    expect(state?.recentTurns.map((t) => t.content)).toEqual(['hello', 'again', 'twice']);
  });

  it('sets the TTL attribute on the session and on its events', async () => {
    const ref = newRef();
    await append(ref, 0, ['x']);
    const state = await store.get(ref);
    const now = Date.now() / 1000;
    expect(state!.expiresAt).toBeGreaterThan(now + 3500);
    const { Item } = await dynamo().send(
      new GetCommand({ TableName: env('eventsTable'), Key: keys.event(ref.tenantId, ref.sessionId, 1) }),
    );
    expect(Item?.expiresAt).toBeGreaterThan(now + 3500);
  });

  it('writes state and events atomically: a failed event write leaves the session untouched', async () => {
    const ref = newRef();
    await append(ref, 0, ['one']);
    // Occupy the seq the next append will use, so its event Put fails inside the transaction.
    await dynamo().send(
      new PutCommand({
        TableName: env('eventsTable'),
        Item: { ...keys.event(ref.tenantId, ref.sessionId, 2), type: 'squatter' },
      }),
    );
    await expect(append(ref, 1, ['two'])).rejects.toThrow();
    const state = await store.get(ref);
    expect(state?.version).toBe(1);
    expect(state?.recentTurns.map((t) => t.content)).toEqual(['one']);
  });

  it('replays the event log into exactly the stored state', async () => {
    const ref = newRef();
    let version = 0;
    for (let i = 0; i < 30; i++) version = (await append(ref, version, [`q${i}`, `a${i}`])).version;
    const events = await allEvents(ref);
    expect(events).toHaveLength(60);
    expect(replay(ref, events)).toEqual(await store.get(ref));
  });

  it('re-creates a session whose item expired while its events live on, continuing the log', async () => {
    const ref = newRef();
    await append(ref, 0, ['old 1']);
    await append(ref, 1, ['old 2']);
    // What DynamoDB's TTL does to the session item, some time after it expires (never on cue).
    await dynamo().send(
      new DeleteCommand({ TableName: env('sessionsTable'), Key: keys.session(ref.tenantId, ref.sessionId) }),
    );
    const created = await store.commit(
      ref,
      (prev, logEnd) =>
        appendTurns(prev, ref, {
          turns: [{ role: 'user', content: 'new', tokens: 1 }],
          at: new Date().toISOString(),
          ttlSeconds: 3600,
          afterSeq: logEnd,
        }),
      { expectedVersion: 0 },
    );
    expect(created).toMatchObject({ version: 1, lastSeq: 3, startSeq: 2 });
    expect(created.recentTurns.map((t) => t.content)).toEqual(['new']);
    const events = await allEvents(ref);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(replay(ref, events)).toEqual(await store.get(ref));
  });

  it('reads an expired session as absent before TTL deletes it, and re-creates it with expectedVersion 0', async () => {
    const ref = newRef();
    await append(ref, 0, ['old']);
    // Expired a second ago; DynamoDB's TTL has not deleted the item yet.
    await dynamo().send(
      new UpdateCommand({
        TableName: env('sessionsTable'),
        Key: keys.session(ref.tenantId, ref.sessionId),
        UpdateExpression: 'SET expiresAt = :past',
        ExpressionAttributeValues: { ':past': Math.floor(Date.now() / 1000) - 1 },
      }),
    );
    expect(await store.get(ref)).toBeNull();
    await expect(append(ref, 1, ['stale'])).rejects.toMatchObject({ code: 'version_conflict' });
    const created = await append(ref, 0, ['new']);
    expect(created).toMatchObject({ version: 1, lastSeq: 2, startSeq: 1 });
    expect(created.recentTurns.map((t) => t.content)).toEqual(['new']);
    expect(summarizedUpTo(created)).toBe(1); // the summarizer starts after the old incarnation
  });

  it('keeps tenants apart: the same session id under another tenant is another session', async () => {
    const a = newRef();
    const b = { ...a, tenantId: uniqueId('t') };
    await append(a, 0, ['secret of a']);
    expect(await store.get(b)).toBeNull();
    expect((await store.listEvents(b, 0, 10)).events).toEqual([]);
    await append(b, 0, ['b']);
    expect((await store.get(a))?.recentTurns.map((t) => t.content)).toEqual(['secret of a']);
  });

  it('under concurrent CAS appends with retry, every acknowledged turn is present exactly once, without gaps', async () => {
    const ref = newRef();
    await append(ref, 0, ['seed']);
    const clients = 8;
    const perClient = 4;
    const acknowledged: string[] = [];
    let conflicts = 0;
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let i = 0; i < perClient; i++) {
          const content = `c${c}-m${i}`;
          for (;;) {
            const current = (await store.get(ref))!.version; // rehydrate
            try {
              await append(ref, current, [content]);
              acknowledged.push(content);
              break;
            } catch (err) {
              if (!(err instanceof VersionConflictError)) throw err;
              conflicts++;
              await new Promise((r) => setTimeout(r, Math.random() * 20)); // jittered backoff, as a client would
            }
          }
        }
      }),
    );
    const state = (await store.get(ref))!;
    const events = await allEvents(ref);
    const logged = events.map((e) => (e.type === 'turn_appended' ? e.data.turn.content : ''));
    expect(acknowledged).toHaveLength(clients * perClient);
    expect(new Set(logged).size).toBe(logged.length);
    expect([...logged].sort()).toEqual(['seed', ...acknowledged].sort());
    expect(state.version).toBe(1 + clients * perClient);
    expect(events.map((e) => e.seq)).toEqual(Array.from({ length: events.length }, (_, i) => i + 1));
    const versions = events.map((e) => (e.type === 'turn_appended' ? e.data.version : 0));
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
    expect(replay(ref, events)).toEqual(state);
    expect(conflicts).toBeGreaterThan(0); // the race really happened
  }, 120_000);
});
