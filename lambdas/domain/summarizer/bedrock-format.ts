import { z } from 'zod';
import type { Citation } from '../facts';
import type { Candidate, SummarizeInput } from './engine';
import { factKey } from './keys';

/**
 * The model side of the Bedrock engine, without the SDK: the prompt we send and the validation of
 * the answer. An answer that is not exactly this JSON, or cites a seq that was not in the transcript,
 * is invalid, and the engine falls back to extractive.
 */

export const SYSTEM_PROMPT = `You turn a conversation transcript into durable structured facts.
Answer with JSON only, no prose, exactly: {"facts":[{"kind":"user|decision|commitment|note","subject":"2-4 words","text":"one sentence","seqs":[<seq>]}]}
- kind "user": about the user (name, preferences, attributes); "decision": something decided; "commitment": a promise or deadline; "note": other concrete values.
- subject names what the fact is about, so a later fact about the same subject can replace it.
- seqs: the [seq N] numbers of the lines the fact comes from. Never invent seqs.
- Skip small talk and questions. At most 40 facts.`;

export const modelAnswerSchema = z.strictObject({
  facts: z
    .array(
      z.strictObject({
        kind: z.enum(['user', 'decision', 'commitment', 'note']),
        subject: z.string().min(1).max(120),
        text: z.string().min(1).max(600),
        seqs: z.array(z.number().int().positive()).min(1).max(20),
      }),
    )
    .max(100),
});

export class InvalidModelAnswerError extends Error {
  constructor(reason: string) {
    super(`invalid model answer: ${reason}`);
    this.name = 'InvalidModelAnswerError';
  }
}

/** The transcript as the model sees it: one line per turn, with the seq it must cite. */
export function transcriptOf(input: SummarizeInput): string {
  const known = (input.previous?.facts ?? []).map((f) => `- ${f.text}`).join('\n');
  const lines = input.turns.map((t) => `[seq ${t.seq}] ${t.role}: ${t.content.replace(/\s+/g, ' ')}`);
  return `${known ? `Facts known so far (newer statements replace them):\n${known}\n\n` : ''}Transcript:\n${lines.join('\n')}`;
}

/** Parses and checks the model's text; throws InvalidModelAnswerError on anything unexpected. */
export function candidatesFromAnswer(text: string, input: SummarizeInput): Candidate[] {
  const json = text
    .trim()
    .replace(/^```(?:json)?\s*/i, '')
    .replace(/\s*```$/, '');
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    throw new InvalidModelAnswerError('not JSON');
  }
  const parsed = modelAnswerSchema.safeParse(raw);
  if (!parsed.success) throw new InvalidModelAnswerError(parsed.error.issues[0]?.message ?? 'schema');
  const turns = new Map(input.turns.map((t) => [t.seq, t]));
  const candidates = parsed.data.facts.map((f) => {
    const citations: Citation[] = f.seqs.map((seq) => {
      const turn = turns.get(seq);
      if (!turn) throw new InvalidModelAnswerError(`cites seq ${seq}, which is not in the transcript`);
      return { seq, ...(turn.ref ? { ref: turn.ref } : {}) };
    });
    const seq = Math.max(...f.seqs);
    return { key: factKey(f.kind, f.subject, 4), text: f.text.trim(), citations, seq };
  });
  // The merge expects conversation order: the newest statement of a key comes last.
  return candidates.sort((a, b) => a.seq - b.seq).map(({ seq: _seq, ...c }) => c);
}
