// The inspector page: plain DOM, no framework, no build. Everything shown comes from the HTTP API with
// the key typed into the page; the key is kept in this tab's sessionStorage only (never localStorage,
// a cookie, the URL or the server). Text from the API is only ever set as text, never as HTML.

const SOURCES = ['system', 'profile', 'facts', 'summary', 'recall', 'history', 'input'];
const BUDGET_KEYS = ['total', ...SOURCES];
const REASONS = {
  max_turns: "beyond the policy's history.maxTurns",
  source_cap: "its section's cap was full",
  total_cap: 'its section had room, the total did not',
};
const PAGE = 200;
const store = window.sessionStorage;
const $ = (id) => document.getElementById(id);

/** Builds an element: attributes (on* excluded), then children (strings become text nodes). */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null) el.append(c);
  return el;
}

const fmt = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : String(n ?? '—'));
const when = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '—');
const clip = (s, n = 400) => (s.length > n ? `${s.slice(0, n)}…` : s);

class ApiError extends Error {
  constructor(status, code, message) {
    super(`${status}${code ? ` ${code}` : ''}: ${message}`);
    this.status = status;
  }
}

const state = {
  base: '',
  key: '',
  sessionId: '',
  userId: '',
  /** seq -> event, whatever pages were read */
  events: new Map(),
  session: null,
  /** the newest seq the log had when the session was read */
  lastSeq: 0,
};

async function api(path, { method = 'GET', body } = {}) {
  let res;
  try {
    res = await fetch(`${state.base}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${state.key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch {
    throw new ApiError(
      0,
      'unreachable',
      `no answer from ${state.base}: a wrong URL, the service is down, or the API does not allow this ` +
        `page's origin (${location.origin}) in its CORS settings (construct prop corsOrigins)`,
    );
  }
  const text = await res.text();
  let json;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const message = json?.error?.message ?? json?.message ?? (text.slice(0, 200) || res.statusText);
    const hint = res.status === 401 || res.status === 403 ? ' (check the API key)' : '';
    throw new ApiError(res.status, json?.error?.code, message + hint);
  }
  return json;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------- status lines

function say(el, text, kind = 'info') {
  el.textContent = text;
  el.dataset.kind = kind;
}

// ---------------------------------------------------------------- session + timeline

function renderOverview(s) {
  const rows = [
    ['Session', s.sessionId],
    ['Version', fmt(s.version)],
    ['Last seq', fmt(s.lastSeq)],
    ['Tokens (all turns)', fmt(s.tokenCounts?.total)],
    ['Tokens (recent turns)', fmt(s.tokenCounts?.recent)],
    ['Tokens not yet summarized', fmt(s.tokenCounts?.unsummarized)],
    ['Recent turns kept', fmt(s.recentTurns?.length ?? 0)],
    ['User', state.userId || '—'],
    ['Created', when(s.createdAt)],
    ['Updated', when(s.updatedAt)],
    ['Expires', s.expiresAt ? when(new Date(s.expiresAt * 1000).toISOString()) : '—'],
  ];
  $('overview').replaceChildren(...rows.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
}

function eventBody(ev) {
  const d = ev.data ?? {};
  if (ev.type === 'turn_appended' && d.turn) {
    const t = d.turn;
    return [
      h(
        'p',
        { class: 'ev-head' },
        h('span', { class: `role role-${t.role}` }, t.role),
        t.name ? h('span', { class: 'tag' }, t.name) : null,
        t.ref ? h('span', { class: 'tag' }, `ref ${t.ref}`) : null,
        h('span', { class: 'hint' }, `${fmt(t.tokens)} tokens · ${when(t.at)}`),
        d.created ? h('span', { class: 'tag' }, 'created') : null,
        d.created && d.userId ? h('span', { class: 'tag' }, `user ${d.userId}`) : null,
      ),
      h('p', { class: 'content' }, clip(t.content ?? '', 600)),
    ];
  }
  if (ev.type === 'summary_updated' && d.summary) {
    const s = d.summary;
    return [
      h(
        'p',
        { class: 'ev-head' },
        h('span', { class: 'role role-event' }, 'summary updated'),
        h('span', { class: 'hint' }, when(ev.at)),
      ),
      h(
        'p',
        { class: 'content' },
        `${fmt(s.facts?.length ?? 0)} facts, ${fmt(s.tokens)} tokens, up to #${s.watermarkSeq} (${s.engine})`,
      ),
    ];
  }
  if (ev.type === 'tool_invoked') {
    return [
      h(
        'p',
        { class: 'ev-head' },
        h('span', { class: 'role role-event' }, 'tool'),
        h('span', { class: 'hint' }, when(ev.at)),
      ),
      h(
        'p',
        { class: 'content' },
        `${d.tool ?? '?'} ${d.outcome ?? ''} in ${fmt(d.durationMs)} ms, step ${fmt(d.stepIndex)}, attempts ${fmt(d.attempts)}`,
      ),
    ];
  }
  return [
    h(
      'p',
      { class: 'ev-head' },
      h('span', { class: 'role role-event' }, ev.type),
      h('span', { class: 'hint' }, when(ev.at)),
    ),
    h('pre', { class: 'content' }, clip(JSON.stringify(d, null, 1), 800)),
  ];
}

function renderTimeline() {
  const seqs = [...state.events.keys()].sort((a, b) => a - b);
  const items = [];
  let prev;
  for (const seq of seqs) {
    if (prev !== undefined && seq > prev + 1) items.push(gapRow(prev + 1, seq - 1));
    const ev = state.events.get(seq);
    items.push(
      h(
        'li',
        {
          id: `ev-${seq}`,
          class: `ev ev-${ev.type}`,
          tabindex: '-1',
          'aria-label': `event ${seq}, ${ev.type}`,
        },
        h('span', { class: 'seq' }, `#${seq}`),
        h('div', { class: 'ev-main' }, ...eventBody(ev)),
      ),
    );
    prev = seq;
  }
  $('events').replaceChildren(...items);
  const first = seqs[0] ?? 0;
  $('earlier-events').hidden = !(first > 1);
  $('timeline-meta').textContent = seqs.length
    ? `${fmt(seqs.length)} events shown (#${first}–#${seqs.at(-1)}) of ${fmt(state.lastSeq)}.`
    : 'No events.';
}

function gapRow(from, to) {
  const button = h('button', { type: 'button', class: 'secondary' }, `Load events #${from}–#${to}`);
  button.addEventListener('click', () => run($('load-status'), () => loadEvents(from, to)));
  return h('li', { class: 'gap' }, button);
}

/** Reads events from..to (inclusive) into the timeline, a page of up to 500 at a time. */
async function loadEvents(from, to) {
  let after = Math.max(0, from - 1);
  while (after < to) {
    const limit = Math.min(500, to - after);
    const page = await api(`/v1/sessions/${enc(state.sessionId)}/events?after=${after}&limit=${limit}`);
    for (const ev of page.events) state.events.set(ev.seq, ev);
    if (page.next === null || page.next === undefined || page.next <= after) break;
    after = page.next;
  }
  renderTimeline();
}

/** Moves focus to an event, reading its page first when it is not shown yet. */
async function showEvent(seq) {
  if (!state.events.has(seq)) await loadEvents(Math.max(1, seq - 20), seq + 20);
  const el = $(`ev-${seq}`);
  if (!el) return say($('load-status'), `Event #${seq} is not in this session's log.`, 'error');
  for (const old of document.querySelectorAll('.ev.highlight')) old.classList.remove('highlight');
  el.classList.add('highlight');
  el.scrollIntoView({ block: 'center' });
  el.focus({ preventScroll: true });
}

/** A link to an event of this session: a real anchor, so it also works without the click handler. */
function eventLink(seq, label) {
  const a = h('a', { href: `#ev-${seq}`, class: 'cite', 'data-seq': String(seq) }, label ?? `#${seq}`);
  a.addEventListener('click', (e) => {
    e.preventDefault();
    void run($('load-status'), () => showEvent(seq));
  });
  return a;
}

// ---------------------------------------------------------------- summary, facts, profile

function citationLinks(citations = []) {
  if (!citations.length) return h('span', { class: 'hint' }, 'no citations');
  return h(
    'span',
    { class: 'cites' },
    'cites ',
    ...citations.flatMap((c, i) => {
      const label = `#${c.seq ?? '?'}${c.ref ? ` (${c.ref})` : ''}`;
      const sameSession = !c.sessionId || c.sessionId === state.sessionId;
      const node =
        typeof c.seq === 'number' && sameSession
          ? eventLink(c.seq, label)
          : h('span', { class: 'tag' }, c.sessionId ? `${c.sessionId} ${label}` : label);
      return i ? [', ', node] : [node];
    }),
  );
}

function renderSummary(summary) {
  if (!summary) {
    $('summary-body').replaceChildren(
      h('p', { class: 'hint' }, 'No summary yet (the summarizer writes one past its trigger).'),
    );
    return;
  }
  $('summary-body').replaceChildren(
    h(
      'p',
      { class: 'hint' },
      `${fmt(summary.facts?.length ?? 0)} facts, ${fmt(summary.tokens)} tokens, covers up to #${summary.watermarkSeq}, ` +
        `engine ${summary.engine}, updated ${when(summary.updatedAt)}`,
    ),
    h(
      'ul',
      { class: 'cards', id: 'summary-facts' },
      ...(summary.facts ?? []).map((f) =>
        h(
          'li',
          { class: 'card' },
          h('p', {}, h('span', { class: 'tag' }, f.key), ' ', f.text),
          h(
            'p',
            { class: 'meta' },
            citationLinks(f.citations),
            h('span', { class: 'hint' }, ` · ${fmt(f.tokens)} tokens`),
          ),
        ),
      ),
    ),
    summary.short?.text
      ? h(
          'p',
          { class: 'short' },
          h('strong', {}, `Short form (${fmt(summary.short.tokens)} tokens): `),
          summary.short.text,
        )
      : null,
  );
}

async function loadFacts(query) {
  const params = new URLSearchParams({ query, limit: '50' });
  if (state.userId) params.set('userId', state.userId);
  const { facts } = await api(`/v1/facts?${params}`);
  $('facts-meta').textContent =
    `${facts.length} ${facts.length === 1 ? 'fact' : 'facts'} for ${query ? `"${query}"` : 'no query (pinned facts only)'}` +
    `${state.userId ? `, user ${state.userId} and tenant-wide` : ', tenant-wide'}.`;
  $('facts').replaceChildren(
    ...facts.map((f) =>
      h(
        'li',
        { class: 'card', id: `fact-${f.id}`, tabindex: '-1' },
        h(
          'p',
          {},
          f.pinned ? h('span', { class: 'tag' }, 'pinned') : null,
          f.key ? h('span', { class: 'tag' }, f.key) : null,
          ' ',
          f.text,
        ),
        h(
          'p',
          { class: 'meta' },
          citationLinks(f.citations),
          h(
            'span',
            { class: 'hint' },
            ` · ${f.id} v${f.version} · score ${f.score?.toFixed?.(3) ?? '—'} · ${fmt(f.tokens)} tokens`,
          ),
        ),
      ),
    ),
  );
}

async function loadProfile() {
  const box = $('profile');
  if (!state.userId) {
    box.replaceChildren(h('p', { class: 'hint' }, 'No user: enter a user id to see a profile.'));
    return;
  }
  let profile;
  try {
    profile = await api(`/v1/users/${enc(state.userId)}/profile`);
  } catch (err) {
    if (err.status !== 404) throw err;
    box.replaceChildren(h('p', { class: 'hint' }, `No profile for user ${state.userId}.`));
    return;
  }
  const names = Object.keys(profile.attributes ?? {}).sort();
  box.replaceChildren(
    h(
      'p',
      { class: 'hint' },
      `User ${profile.userId}, version ${profile.version}, updated ${when(profile.updatedAt)}`,
    ),
    h(
      'table',
      { 'aria-label': `profile of ${profile.userId}` },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Attribute'),
          h('th', { scope: 'col' }, 'Value'),
          h('th', { scope: 'col', class: 'num' }, 'Tokens'),
        ),
      ),
      h(
        'tbody',
        {},
        ...names.map((n) => {
          const v = profile.attributes[n];
          return h(
            'tr',
            { id: `profile-${n}`, tabindex: '-1' },
            h('th', { scope: 'row' }, n),
            h('td', {}, Array.isArray(v) ? v.join(', ') : String(v)),
            h('td', { class: 'num' }, fmt(profile.lines?.[n]?.tokens)),
          );
        }),
      ),
    ),
  );
}

// ---------------------------------------------------------------- context

function bar(value, max, source) {
  const pct = max > 0 ? Math.min(100, (value / max) * 100) : 0;
  const fill = h('span', { class: `fill src-${source}` });
  fill.style.width = `${pct}%`;
  return h('span', { class: 'bar', 'aria-hidden': 'true' }, fill);
}

function renderUsage(ctx) {
  const total = ctx.budget?.total ?? ctx.usage.tokensTotal;
  const used = ctx.usage.tokensTotal;
  const parts = ctx.sections.filter((s) => s.tokens > 0);
  const described = parts.map((s) => `${s.source} ${s.tokens}`).join(', ');
  const stacked = h('div', {
    class: 'stacked',
    role: 'img',
    'aria-label': `${used} of ${total} tokens used: ${described}`,
  });
  for (const s of parts) {
    const seg = h('span', { class: `seg src-${s.source}`, title: `${s.source}: ${s.tokens} tokens` });
    seg.style.width = `${(s.tokens / Math.max(total, used)) * 100}%`;
    stacked.append(seg);
  }
  $('usage').replaceChildren(
    h(
      'p',
      {},
      h('strong', {}, `${fmt(used)} of ${fmt(total)} tokens`),
      ` (${fmt(ctx.usage.tokensFromState)} from state, token tax ratio ${ctx.usage.tokenTaxRatio})`,
    ),
    stacked,
    h(
      'ul',
      { class: 'legend' },
      ...parts.map((s) =>
        h(
          'li',
          {},
          h('span', { class: `swatch src-${s.source}`, 'aria-hidden': 'true' }),
          `${s.source} ${fmt(s.tokens)}`,
        ),
      ),
    ),
  );
}

function droppedTarget(id) {
  const [kind, rest = ''] = [id.slice(0, id.indexOf(':')), id.slice(id.indexOf(':') + 1)];
  if ((kind === 'turn' || kind === 'recall') && /^\d+$/.test(rest)) return eventLink(Number(rest), id);
  const local =
    kind === 'fact'
      ? `fact-${rest}`
      : kind === 'profile'
        ? `profile-${rest}`
        : kind === 'summary'
          ? 'summary'
          : '';
  if (local && document.getElementById(local)) {
    const a = h('a', { href: `#${local}` }, id);
    a.addEventListener('click', (e) => {
      e.preventDefault();
      const el = document.getElementById(local);
      el.scrollIntoView({ block: 'center' });
      el.focus({ preventScroll: true });
    });
    return a;
  }
  return h('code', {}, id);
}

function renderContext(ctx) {
  const meta = [
    ['Fingerprint', h('code', { id: 'fingerprint', class: 'wrap' }, ctx.fingerprint)],
    ['Policy', `${ctx.policy.name} v${ctx.policy.version} (asked: ${ctx.policy.ref})`],
    [
      'Session version',
      ctx.sessionVersion === null ? 'unknown (session store degraded)' : fmt(ctx.sessionVersion),
    ],
    ['Session stamp', ctx.sessionStamp ?? '—'],
    ['Degraded stores', ctx.degraded.length ? h('span', { class: 'warn' }, ctx.degraded.join(', ')) : 'none'],
    [
      'Clamped',
      ctx.clamped?.length
        ? ctx.clamped.map((c) => `${c.source}: asked ${c.requested}, cap ${c.cap}`).join('; ')
        : 'none',
    ],
  ];
  $('ctx-meta').replaceChildren(...meta.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
  renderUsage(ctx);

  $('sections').tBodies[0].replaceChildren(
    ...ctx.sections.map((s) =>
      h(
        'tr',
        { 'data-source': s.source },
        h(
          'th',
          { scope: 'row' },
          h('span', { class: `swatch src-${s.source}`, 'aria-hidden': 'true' }),
          s.source,
          s.form ? h('span', { class: 'hint' }, ` (${s.form})`) : null,
        ),
        h(
          'td',
          { class: 'bar-cell' },
          bar(s.tokens, s.cap, s.source),
          h('span', { class: 'bar-text' }, `${fmt(s.tokens)} / ${fmt(s.cap)}`),
        ),
        h('td', { class: 'num' }, fmt(s.items)),
        h('td', { class: 'num' }, fmt(s.dropped.length)),
      ),
    ),
  );

  const drops = ctx.sections.flatMap((s) => s.dropped.map((d) => ({ ...d, source: s.source })));
  $('dropped').replaceChildren(
    drops.length
      ? h(
          'div',
          { class: 'scroll' },
          h(
            'table',
            { id: 'dropped-table', 'aria-labelledby': 'dropped-heading' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', { scope: 'col' }, 'Section'),
                h('th', { scope: 'col' }, 'Item'),
                h('th', { scope: 'col' }, 'Reason'),
              ),
            ),
            h(
              'tbody',
              {},
              ...drops.map((d) =>
                h(
                  'tr',
                  {},
                  h('td', {}, d.source),
                  h('td', {}, droppedTarget(d.id)),
                  h('td', {}, h('code', {}, d.reason), REASONS[d.reason] ? ` ${REASONS[d.reason]}` : ''),
                ),
              ),
            ),
          ),
        )
      : h('p', { class: 'hint' }, 'Nothing was dropped.'),
  );

  const timings = Object.entries(ctx.timings ?? {});
  const slowest = Math.max(1, ...timings.map(([, ms]) => ms));
  $('timings').tBodies[0].replaceChildren(
    ...timings.map(([step, ms]) =>
      h(
        'tr',
        { 'data-step': step },
        h(
          'th',
          { scope: 'row' },
          step,
          ctx.degraded.includes(step) ? h('span', { class: 'warn' }, ' (degraded)') : null,
        ),
        h(
          'td',
          { class: 'bar-cell' },
          bar(ms, slowest, 'timing'),
          h('span', { class: 'bar-text' }, `${ms.toFixed(1)} ms`),
        ),
      ),
    ),
  );

  $('messages').querySelector('summary').textContent = `Messages sent to the model (${ctx.messages.length})`;
  $('message-list').replaceChildren(
    ...ctx.messages.map((m) =>
      h('li', {}, h('span', { class: `role role-${m.role}` }, m.role), h('pre', {}, m.content)),
    ),
  );
  $('ctx-result').hidden = false;
}

async function buildContext() {
  const input = $('ctx-input').value;
  const budget = {};
  for (const k of BUDGET_KEYS) {
    const v = $(`budget-${k}`).value.trim();
    if (v !== '') budget[k] = Number(v);
  }
  const body = { route: $('ctx-route').value.trim(), input };
  if (state.userId) body.userId = state.userId;
  if (Object.keys(budget).length) body.budget = budget;
  let ms = 0;
  const started = performance.now();
  // The facts this input retrieves, alongside: rendered first, so that a dropped fact links to its card.
  $('facts-query').value = input;
  const [ctx] = await Promise.all([
    api(`/v1/sessions/${enc(state.sessionId)}/context`, { method: 'POST', body }).then((c) => {
      ms = performance.now() - started;
      return c;
    }),
    loadFacts(input),
  ]);
  renderContext(ctx);
  return `Built in ${ms.toFixed(0)} ms (round trip): ${fmt(ctx.usage.tokensTotal)} tokens.`;
}

// ---------------------------------------------------------------- wiring

/** Runs an action, reporting its outcome (or its error) in a status line. */
async function run(statusEl, action, busy) {
  if (busy) say(statusEl, busy);
  try {
    const done = await action();
    if (typeof done === 'string') say(statusEl, done, 'ok');
    else if (busy) say(statusEl, '');
  } catch (err) {
    say(statusEl, err instanceof Error ? err.message : String(err), 'error');
  }
}

function rememberSession(id) {
  const recent = [
    id,
    ...JSON.parse(store.getItem('cp-inspector-recent') ?? '[]').filter((x) => x !== id),
  ].slice(0, 10);
  store.setItem('cp-inspector-recent', JSON.stringify(recent));
  $('recent-sessions').replaceChildren(...recent.map((r) => h('option', { value: r })));
}

async function loadSession() {
  state.base = $('api-url').value.trim().replace(/\/+$/, '');
  state.key = $('api-key').value.trim();
  state.sessionId = $('session-id').value.trim();
  state.userId = $('user-id').value.trim();
  store.setItem('cp-inspector-url', state.base);
  store.setItem('cp-inspector-key', state.key);

  const session = await api(`/v1/sessions/${enc(state.sessionId)}`);
  state.session = session;
  state.lastSeq = session.lastSeq;
  state.events = new Map();
  rememberSession(state.sessionId);
  await loadEvents(Math.max(1, session.lastSeq - PAGE + 1), session.lastSeq);
  if (!state.userId) {
    const bound = [...state.events.values()].find((e) => e.data?.userId);
    if (bound) {
      state.userId = bound.data.userId;
      $('user-id').value = state.userId;
    }
  }
  renderOverview(session);
  renderSummary(session.summary);
  await Promise.all([loadFacts($('facts-query').value.trim()), loadProfile()]);
  $('session-view').hidden = false;
  $('ctx-result').hidden = true;
  return `Loaded session ${session.sessionId}: version ${session.version}, ${fmt(state.events.size)} events shown.`;
}

function init() {
  $('api-url').value = store.getItem('cp-inspector-url') ?? location.origin;
  $('api-key').value = store.getItem('cp-inspector-key') ?? '';
  const recent = JSON.parse(store.getItem('cp-inspector-recent') ?? '[]');
  $('recent-sessions').replaceChildren(...recent.map((r) => h('option', { value: r })));
  $('budget-fields').replaceChildren(
    ...BUDGET_KEYS.map((k) =>
      h(
        'label',
        { for: `budget-${k}` },
        `${k} tokens`,
        h('input', { id: `budget-${k}`, type: 'number', min: '0', step: '1', inputmode: 'numeric' }),
      ),
    ),
  );

  $('load-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void run($('load-status'), loadSession, 'Loading…');
  });
  $('forget-key').addEventListener('click', () => {
    store.removeItem('cp-inspector-key');
    $('api-key').value = '';
    state.key = '';
    say($('load-status'), 'Key forgotten: it is no longer in this tab.', 'ok');
  });
  $('earlier-events').addEventListener('click', () => {
    const first = Math.min(...state.events.keys());
    void run($('load-status'), () => loadEvents(Math.max(1, first - PAGE), first - 1));
  });
  $('facts-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void run($('facts-meta'), () => loadFacts($('facts-query').value.trim()));
  });
  $('context-form').addEventListener('submit', (e) => {
    e.preventDefault();
    void run($('ctx-status'), buildContext, 'Building…');
  });
}

init();
