/**
 * A long scripted conversation for the summarizer's tests: filler turns with no fact in them, and
 * planted facts at known turn indexes (user turns: even indexes), so a test knows which seq and ref
 * each fact must cite.
 */

const FILLER_USER = [
  'Could you walk me through how the import job works',
  'That makes sense, thanks for explaining it so clearly.',
  'What happens when a row in the file is not valid',
  'Okay, and where can I see the rows that were skipped',
  'Great, that is exactly what I was looking for.',
];
const FILLER_ASSISTANT = [
  'Sure. The import job reads the file, checks each row against the schema and writes the valid rows.',
  'Happy to help; tell me whenever something is unclear.',
  'A row that does not match the schema is skipped and reported with the reason it was refused.',
  'The skipped rows are listed in the job report, each with the line it came from.',
  'Glad it helps. Anything else about the import you would like to go through?',
];

export interface PlantedFact {
  /** turn index (0-based); the event seq is index + 1 when the session starts with this conversation */
  index: number;
  text: string;
  /** the summary key the extractive engine gives it */
  key: string;
}

export const PLANTED: PlantedFact[] = [
  { index: 4, text: 'Hello again. My name is Priya Raman.', key: 'user:name' },
  { index: 16, text: 'I prefer email over phone calls.', key: 'user:prefers-email-phone' },
  { index: 30, text: 'My budget is 12,000 euros for this quarter.', key: 'user:budget' },
  { index: 44, text: 'We decided to use PostgreSQL for the ledger.', key: 'decision:postgresql-ledger' },
  { index: 58, text: 'The deadline for the migration is March 14.', key: 'commitment:deadline-migration' },
  { index: 72, text: 'I live in Lisbon.', key: 'user:location' },
  {
    index: 86,
    text: 'We agreed that the rollout starts on 2026-04-01.',
    key: 'decision:rollout-starts-2026',
  },
  { index: 100, text: 'I will send the signed contract by Friday.', key: 'commitment:send-signed-contract' },
];

export interface ScriptedTurn {
  role: 'user' | 'assistant';
  content: string;
  ref: string;
}

/** `n` turns alternating user/assistant; planted facts replace the filler at their index. */
export function scriptedConversation(
  n: number,
  planted: PlantedFact[] = PLANTED,
  refPrefix = 'msg',
): ScriptedTurn[] {
  const at = new Map(planted.map((p) => [p.index, p.text]));
  return Array.from({ length: n }, (_, i) => {
    const user = i % 2 === 0;
    const filler = user
      ? FILLER_USER[(i / 2) % FILLER_USER.length]!
      : FILLER_ASSISTANT[((i - 1) / 2) % FILLER_ASSISTANT.length]!;
    return { role: user ? 'user' : 'assistant', content: at.get(i) ?? filler, ref: `${refPrefix}-${i + 1}` };
  });
}
