import { describe, expect, it } from 'vitest';
import { newTenant, useServer } from '../support/api';
import { uniqueId } from '../support/ids';

/** Recall over HTTP against `npm start`: what a user of the API sees. */
const tenant = newTenant('recall');
const { call } = useServer([tenant]);

const chatter = (n: number, from: number) =>
  Array.from({ length: n }, (_, i) => ({
    role: 'user' as const,
    content: `Ana: the weather was mild and the bus was on time, day ${from + i}`,
    ref: `c${from + i}`,
  }));

describe('recall over HTTP', () => {
  it('recalls a turn from outside the history window right after its append, with its date and seq', async () => {
    const sessionId = uniqueId('s');
    const planted = {
      role: 'user',
      content: 'Ben: we adopted a greyhound called Comet from the shelter',
      ref: 'D1:7',
      at: '2023-05-08T13:56:00+02:00',
    };
    let version = 0;
    for (const turns of [chatter(20, 0), [planted, ...chatter(19, 20)], chatter(20, 40)]) {
      const res = await call('POST', `/v1/sessions/${sessionId}/turns`, {
        body: { expectedVersion: version, turns },
      });
      expect(res.status).toBe(200);
      version = res.body.version;
    }
    // No wait for the indexer: a build that starts after the append returned sees every turn.
    const ctx = await call('POST', `/v1/sessions/${sessionId}/context`, {
      body: { route: 'default', input: 'What is the name of the dog Ben adopted?', budget: { total: 2000 } },
    });
    expect(ctx.status).toBe(200);
    const system: string = ctx.body.messages[0].content;
    // Cited by its seq in the log, where a summary event may have landed before it.
    const events = (await call('GET', `/v1/sessions/${sessionId}/events?after=0&limit=100`)).body.events;
    const seq = events.find((e: { data: { turn?: { ref?: string } } }) => e.data.turn?.ref === 'D1:7').seq;
    expect(system).toContain(`\n2023-05-08\n#${seq} Ben: we adopted a greyhound called Comet`);
    const recall = ctx.body.sections.find((s: { source: string }) => s.source === 'recall');
    expect(recall.items).toBeGreaterThan(0);
    expect(recall.tokens).toBeLessThanOrEqual(recall.cap);
    expect(ctx.body.usage.tokensTotal).toBeLessThanOrEqual(2000);
    expect(ctx.body.degraded).toEqual([]);
    // History holds the newest turns; recall never repeats one of them (the summary, written
    // asynchronously, may quote one: only the recall section is checked).
    const recalled = system.slice(system.indexOf('## Recalled from earlier in the conversation'));
    const history = ctx.body.messages.slice(1, -1).map((m: { content: string }) => m.content);
    expect(history.length).toBeGreaterThan(0);
    for (const line of history) expect(recalled).not.toContain(line);
  });

  it('refuses a bad `at` (400 naming the field) and a second user for a session (409)', async () => {
    const sessionId = uniqueId('s');
    const bad = await call('POST', `/v1/sessions/${sessionId}/turns`, {
      body: { expectedVersion: 0, turns: [{ role: 'user', content: 'hi', at: 'yesterday' }] },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body.error.details)).toContain('turns.0.at');
    const first = await call('POST', `/v1/sessions/${sessionId}/turns`, {
      body: { expectedVersion: 0, userId: 'u1', turns: [{ role: 'user', content: 'hi' }] },
    });
    expect(first.status).toBe(200);
    const other = await call('POST', `/v1/sessions/${sessionId}/turns`, {
      body: { expectedVersion: 1, userId: 'u2', turns: [{ role: 'user', content: 'hi' }] },
    });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('session_user_mismatch');
  });
});
