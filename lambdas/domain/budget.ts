import type { Caps, RetrievedFact, Source } from './context';
import { sources } from './context';
import { BudgetTooSmallError, InputTooLargeError } from './errors';
import type { Citation, StructuredSummary } from './facts';
import { bringsNeighbours, type RecallHit } from './recall';
import type { StoredTurn } from './session';

/**
 * The budgeter: splits a context over its sources under hard per-source caps and a total cap, drops
 * the least relevant items first, and renders chat-ready messages whose cost it accounts exactly as
 * charged: stored token counts for stored text, plus framing.
 *
 * Framing: every chat message costs MESSAGE_OVERHEAD tokens (role and delimiters, as in the OpenAI
 * chat format), the reply priming costs REPLY_PRIMING (charged to `input`), and every character we
 * add around stored text (headers, bullets, ids, citations) is charged one token per UTF-8 byte, an
 * upper bound for any BPE tokenizer, so no tokenizer runs on stored state.
 */
export const MESSAGE_OVERHEAD = 3;
export const REPLY_PRIMING = 3;
export const framingTokens = (s: string) => Buffer.byteLength(s, 'utf8');

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  name?: string;
  toolCallId?: string;
}

/** max_turns: beyond the policy's turn window; source_cap / total_cap: the cap it did not fit. */
export type DropReason = 'max_turns' | 'source_cap' | 'total_cap';
export interface Drop {
  id: string;
  reason: DropReason;
}

export interface Section {
  source: Source;
  tokens: number;
  cap: number;
  items: number;
  dropped: Drop[];
  /** summary only: which form was used */
  form?: 'full' | 'short' | 'none';
}

export interface Usage {
  tokensTotal: number;
  tokensFromState: number;
  tokenTaxRatio: number;
}

export interface Clamp {
  source: Source | 'total';
  requested: number;
  cap: number;
}

/** The policy's caps, lowered (never raised) by the request's; every raise attempt is reported. */
export function effectiveCaps(policy: Caps, requested: Partial<Caps> = {}): { caps: Caps; clamped: Clamp[] } {
  const caps = { ...policy };
  const clamped: Clamp[] = [];
  for (const key of ['total', ...sources] as const) {
    const asked = requested[key];
    if (asked === undefined) continue;
    if (asked > policy[key]) clamped.push({ source: key, requested: asked, cap: policy[key] });
    caps[key] = Math.min(asked, policy[key]);
  }
  return { caps, clamped };
}

export interface ProfileLine {
  attr: string;
  text: string;
  tokens: number;
}

export interface BudgetInput {
  /** the session the context is for: its turns are cited (and recalled) by seq alone */
  sessionId: string;
  caps: Caps;
  maxTurns: number;
  system: { text: string; tokens: number };
  input: { text: string; tokens: number };
  /** allow-listed attributes, in the policy's allow-list order (its priority) */
  profile: ProfileLine[];
  /** best first */
  facts: RetrievedFact[];
  summary: StructuredSummary | null;
  /** oldest first */
  turns: StoredTurn[];
  /** each source's share of the room after system and input (policy `split`); none: caps alone */
  split?: Partial<Record<'history' | 'summary' | 'facts' | 'profile', number>>;
  recall?: RecallInput;
}

/** Recalled turns: hits best first, and the turns fetched for them and their neighbours. */
export interface RecallInput {
  hits: RecallHit[];
  /** by `${sessionId}#${seq}` */
  turns: Map<string, StoredTurn>;
  /** tokens of the framing around a recalled turn (date, citation): short, so counted exactly */
  framing: (text: string) => number;
}

export interface BudgetResult {
  messages: ChatMessage[];
  sections: Section[];
  usage: Usage;
}

/** One source's allowance, drawing on the shared total. */
class Room {
  used = 0;
  constructor(
    readonly cap: number,
    private readonly total: { left: number },
  ) {}
  /** Takes `cost` if it fits both caps; otherwise says which one it did not fit. */
  take(cost: number): DropReason | null {
    if (this.used + cost > this.cap) return 'source_cap';
    if (cost > this.total.left) return 'total_cap';
    this.used += cost;
    this.total.left -= cost;
    return null;
  }
}

/**
 * A citation as the prompt shows it: a turn by its seq (`#12`, or `<session>#12` for another
 * session's), a reference without one as `ref:<ref>`. A turn's own `ref` stays out: apps' message ids
 * are often UUIDs, some 20 tokens each, where a seq costs 2.
 */
const citationText = (c: Citation, sessionId: string) =>
  c.seq !== undefined
    ? `${c.sessionId && c.sessionId !== sessionId ? c.sessionId : ''}#${c.seq}`
    : c.ref
      ? `ref:${c.ref}`
      : '';
const citesSuffix = (citations: Citation[], sessionId: string) => {
  const parts = citations.map((c) => citationText(c, sessionId)).filter(Boolean);
  return parts.length ? ` (cites: ${parts.join('; ')})` : '';
};

/** Greedy by priority: an item that does not fit is dropped, smaller later ones may still fit. */
function bulletPart<T>(
  room: Room,
  header: string,
  items: T[],
  render: (item: T) => { id: string; prefix: string; text: string; suffix: string; tokens: number },
) {
  let content = '';
  let included = 0;
  const dropped: Drop[] = [];
  for (const item of items) {
    const r = render(item);
    const lead = included === 0 ? header : '';
    const cost = framingTokens(lead + r.prefix + r.suffix) + r.tokens;
    const reason = room.take(cost);
    if (reason) {
      dropped.push({ id: r.id, reason });
      continue;
    }
    content += lead + r.prefix + r.text + r.suffix;
    included++;
  }
  return { content, included, dropped };
}

/**
 * What the two parts that can be neither dropped nor split cost; throws when they cannot fit: 422 when
 * the system prompt exceeds its cap (or the total), 413 when the input exceeds its cap or what the
 * total leaves after the system prompt. Callable before the stores answer, to fail fast.
 */
export function requiredCosts(caps: Caps, systemTokens: number, inputTokens: number) {
  const systemCost = MESSAGE_OVERHEAD + systemTokens;
  const systemRoom = Math.min(caps.system, caps.total);
  if (systemCost > systemRoom) throw new BudgetTooSmallError('system', systemCost, systemRoom);
  const inputCost = MESSAGE_OVERHEAD + inputTokens + REPLY_PRIMING;
  const inputRoom = Math.min(caps.input, caps.total - systemCost);
  if (inputCost > inputRoom) throw new InputTooLargeError(inputTokens, inputCost, inputRoom);
  return { systemCost, inputCost };
}

/**
 * Budgets and renders a context. Allocation order (who gets the total first): system prompt and
 * input (required: 422 / 413 when they cannot fit), then history (newest first), summary, profile,
 * facts. Message order: system (prompt, profile, facts, summary), history turns, the user's input.
 */
export function budget(i: BudgetInput): BudgetResult {
  const { caps } = i;
  const total = { left: caps.total };

  const { systemCost, inputCost } = requiredCosts(caps, i.system.tokens, i.input.tokens);
  total.left -= systemCost + inputCost;
  const room = total.left;
  const capOf = (source: 'history' | 'summary' | 'facts' | 'profile') => {
    const share = i.split?.[source];
    return share === undefined ? caps[source] : Math.min(caps[source], Math.floor(share * room));
  };

  // History: newest first and contiguous, so the conversation never has a hole in it.
  const history = new Room(capOf('history'), total);
  const historyDrops: Drop[] = [];
  const kept: StoredTurn[] = [];
  let stop: DropReason | null = null;
  for (let n = i.turns.length - 1, rank = 0; n >= 0; n--, rank++) {
    const turn = i.turns[n]!;
    const cost = MESSAGE_OVERHEAD + turn.tokens + framingTokens((turn.name ?? '') + (turn.toolCallId ?? ''));
    if (rank < i.maxTurns && !stop) stop = history.take(cost);
    const reason = rank >= i.maxTurns ? 'max_turns' : stop;
    if (reason) historyDrops.push({ id: `turn:${turn.seq}`, reason });
    else kept.unshift(turn);
  }

  const summary = new Room(capOf('summary'), total);
  const summaryPart = renderSummary(summary, i.summary, i.sessionId);

  const profile = new Room(capOf('profile'), total);
  const profilePart = bulletPart(profile, '\n\n## User profile', i.profile, (l) => ({
    id: `profile:${l.attr}`,
    prefix: '\n- ',
    text: l.text,
    suffix: '',
    tokens: l.tokens,
  }));

  const facts = new Room(capOf('facts'), total);
  const factsPart = bulletPart(facts, '\n\n## Facts', i.facts, (f) => ({
    id: `fact:${f.id}`,
    prefix: '\n- ',
    text: f.text,
    suffix: citesSuffix(f.citations, i.sessionId),
    tokens: f.tokens,
  }));

  // Recall last: it takes what the others left, up to its own cap.
  const recall = new Room(Math.min(caps.recall, total.left), total);
  const recallPart = renderRecall(recall, i.recall, i.sessionId, new Set(kept.map((t) => t.seq)));

  const messages: ChatMessage[] = [
    {
      role: 'system',
      content:
        i.system.text + profilePart.content + factsPart.content + summaryPart.content + recallPart.content,
    },
    ...kept.map(
      (t): ChatMessage => ({
        role: t.role,
        content: t.content,
        ...(t.name ? { name: t.name } : {}),
        ...(t.toolCallId ? { toolCallId: t.toolCallId } : {}),
      }),
    ),
    { role: 'user', content: i.input.text },
  ];

  const section = (source: Source, room: Room | null, tokens: number, items: number, dropped: Drop[]) => ({
    source,
    tokens,
    cap: room ? room.cap : caps[source],
    items,
    dropped,
  });
  const sections: Section[] = [
    section('system', null, systemCost, 1, []),
    section('profile', profile, profile.used, profilePart.included, profilePart.dropped),
    section('facts', facts, facts.used, factsPart.included, factsPart.dropped),
    {
      ...section('summary', summary, summary.used, summaryPart.included, summaryPart.dropped),
      form: summaryPart.form,
    },
    section('recall', recall, recall.used, recallPart.included, recallPart.dropped),
    section('history', history, history.used, kept.length, historyDrops),
    section('input', null, inputCost, 1, []),
  ];
  const tokensTotal = sections.reduce((n, s) => n + s.tokens, 0);
  const tokensFromState = tokensTotal - systemCost - inputCost;
  return {
    messages,
    sections,
    usage: {
      tokensTotal,
      tokensFromState,
      tokenTaxRatio: tokensTotal ? Math.round((tokensFromState / tokensTotal) * 10_000) / 10_000 : 0,
    },
  };
}

const SUMMARY_HEADER = '\n\n## Conversation summary';

/** The full summary if it fits, else its short form, else nothing: never a part of either. */
function renderSummary(room: Room, summary: StructuredSummary | null, sessionId: string) {
  const none = { content: '', included: 0, dropped: [] as Drop[], form: 'none' as const };
  if (!summary) return none;
  const dropped: Drop[] = [];
  if (summary.facts.length > 0) {
    // The date a fact was said, so a model can answer "when" questions from the summary too.
    const lines = summary.facts.map((f) => {
      const head = `\n- [${f.key}${f.at ? `, ${f.at.slice(0, 10)}` : ''}] `;
      const cites = citesSuffix(f.citations, sessionId);
      return {
        framing: `${head}${cites}`,
        text: `${head}${f.text}${cites}`,
        tokens: f.tokens,
      };
    });
    const cost = lines.reduce(
      (n, l) => n + framingTokens(l.framing) + l.tokens,
      framingTokens(SUMMARY_HEADER),
    );
    const reason = room.take(cost);
    if (!reason) {
      return {
        content: SUMMARY_HEADER + lines.map((l) => l.text).join(''),
        included: lines.length,
        dropped,
        form: 'full' as const,
      };
    }
    dropped.push({ id: 'summary:full', reason });
  }
  if (summary.short.text) {
    const reason = room.take(framingTokens(`${SUMMARY_HEADER}\n`) + summary.short.tokens);
    if (!reason)
      return {
        content: `${SUMMARY_HEADER}\n${summary.short.text}`,
        included: 1,
        dropped,
        form: 'short' as const,
      };
    dropped.push({ id: 'summary:short', reason });
  }
  return { ...none, dropped };
}

const RECALL_HEADER = '\n\n## Recalled from earlier in the conversation';

interface Picked {
  sessionId: string;
  turn: StoredTurn;
}

/**
 * Recalled turns. Chosen best hit first, each with the turns before and after it when it is a strong
 * hit and they fit (an answer often sits in the reply; the largest excerpt that fits is taken); never
 * a turn the history holds, never one twice. Rendered in conversation order under a line per date
 * (and session, for another session's turns): a timeline reads better than a ranking, and a date
 * said once per day instead of once per turn leaves room for more turns. A line is
 * `#<seq> <content>` (the app maps a seq back to its own ref through the session's events).
 */
function renderRecall(room: Room, input: RecallInput | undefined, own: string, inHistory: Set<number>) {
  const dropped: Drop[] = [];
  if (!input || input.hits.length === 0) return { content: '', included: 0, dropped };
  // The same framing strings are costed again and again (headers, options tried per hit): count each once.
  const counted = new Map<string, number>();
  const framing = (text: string) => {
    const known = counted.get(text);
    if (known !== undefined) return known;
    const n = input.framing(text);
    counted.set(text, n);
    return n;
  };
  const picked = new Map<string, Picked>();
  const groups = new Set<string>();
  const keyOf = (sessionId: string, seq: number) => `${sessionId}#${seq}`;
  const idOf = (sessionId: string, seq: number) =>
    sessionId === own ? `recall:${seq}` : `recall:${sessionId}#${seq}`;
  const groupOf = (p: Picked) =>
    `${p.sessionId === own ? '' : `session ${p.sessionId}, `}${p.turn.at.slice(0, 10)}`;
  const lineOf = (p: Picked) => `\n#${p.turn.seq} `;
  const available = (sessionId: string, seq: number): Picked | null => {
    const key = keyOf(sessionId, seq);
    const turn = input.turns.get(key);
    if (!turn || picked.has(key) || (sessionId === own && inHistory.has(seq))) return null;
    return { sessionId, turn };
  };
  /** What adding these turns costs: their lines, plus the section and date headers not yet paid. */
  const costOf = (ps: Picked[]) => {
    let cost = picked.size === 0 ? framing(RECALL_HEADER) : 0;
    const fresh = new Set<string>();
    for (const p of ps) {
      const g = groupOf(p);
      if (!groups.has(g) && !fresh.has(g)) {
        fresh.add(g);
        cost += framing(`\n${g}`);
      }
      cost += framing(lineOf(p)) + p.turn.tokens;
    }
    return cost;
  };

  for (const [rank, hit] of input.hits.entries()) {
    const main = available(hit.sessionId, hit.seq);
    if (!main) continue;
    const strong = bringsNeighbours(input.hits, rank);
    const before = strong ? available(hit.sessionId, hit.seq - 1) : null;
    const after = strong ? available(hit.sessionId, hit.seq + 1) : null;
    // Largest first: with both neighbours, with the reply only, with the one before, alone.
    const options = [[before, main, after], [main, after], [before, main], [main]].map((o) =>
      o.filter((p): p is Picked => p !== null),
    );
    let taken: Picked[] | null = null;
    let reason: DropReason | null = null;
    for (const ps of options) {
      const why = room.take(costOf(ps));
      if (!why) {
        taken = ps;
        break;
      }
      reason ??= why;
    }
    if (!taken) {
      dropped.push({ id: idOf(hit.sessionId, hit.seq), reason: reason ?? 'source_cap' });
      continue;
    }
    for (const p of taken) {
      picked.set(keyOf(p.sessionId, p.turn.seq), p);
      groups.add(groupOf(p));
    }
    for (const n of [before, after]) {
      if (n && !taken.includes(n))
        dropped.push({ id: idOf(n.sessionId, n.turn.seq), reason: reason ?? 'source_cap' });
    }
  }
  if (picked.size === 0) return { content: '', included: 0, dropped };

  // Conversation order: sessions by their earliest recalled turn, then by time and seq within each,
  // so every date group is contiguous and its header appears once, as it was charged.
  const first = new Map<string, string>();
  for (const p of picked.values()) {
    const at = first.get(p.sessionId);
    if (at === undefined || p.turn.at < at) first.set(p.sessionId, p.turn.at);
  }
  const order = [...picked.values()].sort(
    (a, b) =>
      (a.sessionId === b.sessionId ? 0 : first.get(a.sessionId)! < first.get(b.sessionId)! ? -1 : 1) ||
      (a.sessionId < b.sessionId ? -1 : a.sessionId > b.sessionId ? 1 : 0) ||
      (a.turn.at < b.turn.at ? -1 : a.turn.at > b.turn.at ? 1 : 0) ||
      a.turn.seq - b.turn.seq,
  );
  let content = RECALL_HEADER;
  let group = '';
  for (const p of order) {
    const g = groupOf(p);
    if (g !== group) content += `\n${g}`;
    group = g;
    content += lineOf(p) + p.turn.content;
  }
  return { content, included: picked.size, dropped };
}
