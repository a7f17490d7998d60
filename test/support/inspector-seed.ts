import { PolicyStore } from '../../lambdas/stores/policy-store';

/**
 * A support conversation with everything the inspector shows: turns (with refs and a user), a summary
 * written by the summarizer (a low trigger on its own route), long-term facts citing the session's
 * turns, a profile, and a policy whose small history window and facts cap make a context drop items.
 */

export const SEED_TURNS: { role: 'user' | 'assistant'; content: string }[] = [
  { role: 'user', content: 'Hi, my name is Priya Raman and I run the ops team at Lindqvist Logistics.' },
  { role: 'assistant', content: 'Hello Priya! How can I help you today?' },
  { role: 'user', content: 'Our order 4417 of twelve label printers has not arrived yet.' },
  { role: 'assistant', content: 'Order 4417 left the Leipzig warehouse on Monday with DHL Freight.' },
  { role: 'user', content: 'We decided to ship all future orders to the Berlin office instead of Hamburg.' },
  { role: 'assistant', content: 'Noted: future orders go to the Berlin office.' },
  { role: 'user', content: 'I prefer email over phone calls, please.' },
  { role: 'assistant', content: 'Understood, we will contact you by email.' },
  { role: 'user', content: 'The printers must be installed before the audit on 12 December.' },
  { role: 'assistant', content: 'I will ask the installer to book a slot before 12 December.' },
  { role: 'user', content: 'Also, the invoice for order 4417 lists the wrong VAT number.' },
  { role: 'assistant', content: 'I have asked billing to reissue the invoice with your VAT number.' },
];

export interface Seeded {
  sessionId: string;
  userId: string;
  route: string;
  /** the summary as GET /v1/sessions/{id} returned it once it was written */
  summary: { facts: { key: string; text: string; citations: { seq: number; ref?: string }[] }[] };
  facts: { id: string; text: string }[];
}

// biome-ignore lint/suspicious/noExplicitAny: the tests read arbitrary JSON answers.
export type Json = any;

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: Json }>;

export function apiCaller(url: string, key: string): Call {
  return async (method, path, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  };
}

async function ok(res: Promise<{ status: number; body: Json }>) {
  const r = await res;
  if (r.status >= 300) throw new Error(`seed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function seedInspectorSession(
  call: Call,
  ids: { sessionId: string; userId: string; route: string },
) {
  const { sessionId, userId, route } = ids;
  await new PolicyStore().publish(route, {
    systemPrompt: 'You are the support assistant of a label printer vendor. Cite the turns you rely on.',
    history: { maxTurns: 4 },
    budgets: { facts: 100 },
    profile: { allow: ['plan', 'seats', 'language'] },
    summary: { triggerTokens: 30, maxTokens: 200, shortMaxTokens: 60 },
  });
  let version = 0;
  let lastSeq = 0;
  for (let i = 0; i < SEED_TURNS.length; i += 4) {
    const turns = SEED_TURNS.slice(i, i + 4).map((t, j) => ({ ...t, ref: `msg-${i + j + 1}` }));
    const appended = await ok(
      call('POST', `/v1/sessions/${sessionId}/turns`, { expectedVersion: version, route, userId, turns }),
    );
    ({ version, lastSeq } = appended);
  }
  // The summarizer runs from the queue (the local runtime's poller): wait until it covers the turns.
  const deadline = Date.now() + 60_000;
  let summary: Seeded['summary'] | undefined;
  while (!summary) {
    const s = await ok(call('GET', `/v1/sessions/${sessionId}`));
    if (s.summary?.facts?.length && s.summary.watermarkSeq >= lastSeq) summary = s.summary;
    else if (Date.now() > deadline) throw new Error(`seed: no summary in time: ${JSON.stringify(s.summary)}`);
    else await new Promise((r) => setTimeout(r, 250));
  }
  const events = (await ok(call('GET', `/v1/sessions/${sessionId}/events?after=0&limit=100`))).events as {
    seq: number;
    type: string;
    data: { turn?: { ref?: string } };
  }[];
  const seqOf = (ref: string) => events.find((e) => e.data.turn?.ref === ref)!.seq;
  const facts = [];
  for (const f of [
    {
      key: 'order-4417',
      text: 'Order 4417 (twelve label printers) left the Leipzig warehouse with DHL Freight.',
      ref: 'msg-4',
    },
    {
      key: 'delivery-address',
      text: 'Lindqvist Logistics ships future orders to the Berlin office.',
      ref: 'msg-5',
    },
    { key: 'contact', text: 'Priya Raman prefers email over phone calls.', ref: 'msg-7' },
    {
      key: 'audit',
      text: 'The printers for order 4417 must be installed before the audit on 12 December.',
      ref: 'msg-9',
    },
  ]) {
    const body = await ok(
      call('POST', '/v1/facts', {
        userId,
        key: f.key,
        text: f.text,
        citations: [{ sessionId, seq: seqOf(f.ref), ref: f.ref }],
      }),
    );
    facts.push(body.fact);
  }
  await ok(
    call('PUT', `/v1/users/${userId}/profile`, {
      expectedVersion: 0,
      attributes: { plan: 'enterprise', seats: 40, language: 'de', churnRisk: 'low' },
    }),
  );
  return { sessionId, userId, route, summary: summary!, facts } satisfies Seeded;
}
