import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueId } from '../support/ids';
import { apiCaller, type Seeded, seedInspectorSession } from '../support/inspector-seed';
import { type Started, startProcess } from '../support/start-process';

/**
 * The inspector page in headless Chromium (Debian's `chromium`, driven by playwright-core; no browser
 * download) against `npm start`. The page is opened on one origin (localhost) and talks to the API on
 * another (127.0.0.1), as it does against a deployed stack: every call goes through the CORS preflight.
 */

/** The page's globals, for the functions that run in the browser (the project compiles without the DOM library). */
declare const document: {
  querySelector(selector: string): { dataset: Record<string, string | undefined> } | null;
  activeElement: { id: string } | null;
  cookie: string;
};
declare const localStorage: { length: number };
declare const sessionStorage: { getItem(key: string): string | null };
declare const window: {
  axe: { run(context: unknown, options: unknown): Promise<{ violations: AxeViolation[] }> };
};
interface AxeViolation {
  id: string;
  nodes: { target: string[] }[];
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = path.join(os.tmpdir(), 'context-plane-inspector.png');
const tenant = { name: uniqueId('insp'), key: `cp_${uniqueId('k')}` };

let server: Started;
let port: number;
let api: string;
let pageOrigin: string;
let browser: Browser;
let seeded: Seeded;

/** A port nobody listens on right now, so the allowed origin can be named before the server starts. */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  expect(fs.existsSync(CHROMIUM), `${CHROMIUM} missing: apt-get install -y chromium`).toBe(true);
  port = await freePort();
  pageOrigin = `http://localhost:${port}`;
  server = await startProcess({
    PORT: String(port),
    CONTEXT_PLANE_TENANTS: `${tenant.name}:${tenant.key}`,
    CONTEXT_PLANE_CORS_ORIGINS: pageOrigin,
  });
  api = server.url;
  const id = uniqueId('x').toLowerCase();
  seeded = await seedInspectorSession(apiCaller(api, tenant.key), {
    sessionId: `support-${id}`,
    userId: `u-priya-${id}`,
    route: `inspect-${id}`,
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (server) expect(await server.stop()).toBe(0);
});

async function openInspector(opts: { bypassCSP?: boolean } = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...opts });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${pageOrigin}/inspector`);
  return { page, errors };
}

async function loadSession(page: Page, key: string, sessionId: string) {
  await page.getByLabel('API URL').fill(api);
  await page.getByLabel('API key').fill(key);
  await page.getByLabel('Session id').fill(sessionId);
  // Keyboard: Enter in a field submits the form.
  await page.getByLabel('Session id').press('Enter');
  await page.waitForFunction(() =>
    ['ok', 'error'].includes(document.querySelector('#load-status')?.dataset.kind ?? ''),
  );
}

/** What an element says (its text content; CSS such as uppercase labels does not apply). */
const text = async (page: Page, selector: string) => (await page.locator(selector).textContent()) ?? '';

describe('the inspector page', () => {
  it('is served without a key, with a policy that runs only its own scripts', async () => {
    const res = await fetch(`${api}/inspector`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await res.text()).toContain('<script type="module" src="/inspector/inspector.js">');
    const js = await fetch(`${api}/inspector/inspector.js`);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    for (const p of ['/inspector/nope.js', '/inspector/..%2Fserver.ts', '/inspector/../local/server.ts']) {
      expect((await fetch(`${api}${p}`)).status, p).toBe(404);
    }
  });

  it("answers the CORS preflight for the page's origin only, as API Gateway's CORS configuration does", async () => {
    const preflight = (origin: string) =>
      fetch(`${api}/v1/sessions/${seeded.sessionId}/context`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
    const allowed = await preflight(pageOrigin);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(pageOrigin);
    expect(allowed.headers.get('access-control-allow-headers')?.split(',')).toEqual(
      expect.arrayContaining(['authorization', 'content-type', 'idempotency-key', 'prefer']),
    );
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    const other = await preflight('http://elsewhere.example');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // A refusal carries the header too, so the page can show it instead of a network error.
    const denied = await fetch(`${api}/v1/sessions/${seeded.sessionId}`, { headers: { origin: pageOrigin } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get('access-control-allow-origin')).toBe(pageOrigin);
  });

  it('says a wrong key is refused, and keeps the key out of localStorage and cookies', async () => {
    const { page } = await openInspector();
    await loadSession(page, 'cp_not_a_key_at_all', seeded.sessionId);
    expect(await text(page, '#load-status')).toMatch(/^403.*check the API key/);
    expect(await page.locator('#session-view').isHidden()).toBe(true);
    const stored = await page.evaluate(() => ({
      local: localStorage.length,
      cookie: document.cookie,
      tab: sessionStorage.getItem('cp-inspector-key'),
    }));
    expect(stored).toEqual({ local: 0, cookie: '', tab: 'cp_not_a_key_at_all' });
    await page.getByRole('button', { name: 'Forget key' }).click();
    expect(await page.evaluate(() => sessionStorage.getItem('cp-inspector-key'))).toBeNull();
    await page.context().close();
  });

  it('shows the timeline, the summary with citations linked to events, facts, profile and a context build', async () => {
    const { page, errors } = await openInspector();
    const call = apiCaller(api, tenant.key);
    const session = (await call('GET', `/v1/sessions/${seeded.sessionId}`)).body;
    const events = (await call('GET', `/v1/sessions/${seeded.sessionId}/events?after=0&limit=100`)).body
      .events;

    await loadSession(page, tenant.key, seeded.sessionId);
    expect(await text(page, '#load-status')).toContain(`Loaded session ${seeded.sessionId}`);

    // Timeline: every event of the log, each turn with its role and content.
    expect(await page.locator('#events > li.ev').count()).toBe(session.lastSeq);
    for (const ev of events) {
      const li = page.locator(`#ev-${ev.seq}`);
      if (ev.type === 'turn_appended') {
        expect(await li.textContent()).toContain(ev.data.turn.content);
        expect(await li.locator('.role').textContent()).toBe(ev.data.turn.role);
      } else expect(await li.textContent()).toMatch(/summary updated/i);
    }
    // The user the session is bound to was found in the log and filled in.
    expect(await page.getByLabel('User id').inputValue()).toBe(seeded.userId);

    // Summary: each fact with links to the events it cites; following one moves focus to that event.
    const cards = page.locator('#summary-facts > li');
    expect(await cards.count()).toBe(seeded.summary.facts.length);
    for (const [i, fact] of seeded.summary.facts.entries()) {
      const card = cards.nth(i);
      expect(await card.textContent()).toContain(fact.text);
      const hrefs = await card.locator('a.cite').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
      expect(hrefs).toEqual(fact.citations.map((c) => `#ev-${c.seq}`));
    }
    const cited = seeded.summary.facts.find((f) => f.key === 'user:name')!.citations[0]!;
    await cards.locator(`a[href="#ev-${cited.seq}"]`).first().focus();
    await page.keyboard.press('Enter');
    await page.waitForFunction((id) => document.activeElement?.id === id, `ev-${cited.seq}`);
    const citedTurn = events.find((e: { seq: number }) => e.seq === cited.seq).data.turn;
    expect(await text(page, `#ev-${cited.seq}`)).toContain(citedTurn.content);
    expect(citedTurn.ref).toBe(cited.ref);

    // Profile: every attribute, with its stored line's tokens.
    expect(await page.locator('#profile-plan td').allTextContents()).toEqual([
      'enterprise',
      expect.stringMatching(/^\d+$/),
    ]);
    expect(await page.locator('#profile-seats td').first().textContent()).toBe('40');

    // A context build: the budget field above the policy is clamped, and everything the API answered is shown.
    await page.getByLabel('Input', { exact: true }).fill('When will order 4417 arrive in Berlin?');
    await page.getByLabel('Route').fill(seeded.route);
    await page.getByLabel('total tokens').fill('99999');
    const answered = page.waitForResponse(
      (r) => r.url().endsWith('/context') && r.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Build context' }).click();
    const ctx = await (await answered).json();
    await page.waitForSelector('#ctx-result:not([hidden])');
    expect(ctx.clamped).toEqual([{ source: 'total', requested: 99999, cap: 8000 }]);
    // The seeded policy keeps 4 turns and 100 tokens of facts: turns and facts are dropped, for those reasons.
    const reasons = ctx.sections.flatMap((s: { dropped: { reason: string }[] }) =>
      s.dropped.map((d) => d.reason),
    );
    expect(reasons).toContain('max_turns');
    expect(reasons).toContain('source_cap');

    expect(await text(page, '#fingerprint')).toBe(ctx.fingerprint);
    expect(await text(page, '#ctx-meta')).toContain('total: asked 99999, cap 8000');
    for (const s of ctx.sections) {
      const row = page.locator(`#sections tr[data-source="${s.source}"]`);
      expect(await row.locator('.bar-text').textContent()).toBe(
        `${s.tokens.toLocaleString('en-US')} / ${s.cap.toLocaleString('en-US')}`,
      );
      const width = await row.locator('.fill').evaluate((el) => el.style.width);
      expect(Number.parseFloat(width)).toBeCloseTo(s.cap ? Math.min(100, (s.tokens / s.cap) * 100) : 0, 3);
      expect(await row.locator('td').last().textContent()).toBe(String(s.dropped.length));
    }
    expect(await page.locator('#usage .stacked').getAttribute('aria-label')).toBe(
      `${ctx.usage.tokensTotal} of 8000 tokens used: ${ctx.sections
        .filter((s: { tokens: number }) => s.tokens > 0)
        .map((s: { source: string; tokens: number }) => `${s.source} ${s.tokens}`)
        .join(', ')}`,
    );

    // Every dropped item, with its reason; a dropped turn links to its event, a dropped fact to its card.
    const drops: [source: string, id: string, reason: string][] = ctx.sections.flatMap(
      (s: { source: string; dropped: { id: string; reason: string }[] }) =>
        s.dropped.map((d) => [s.source, d.id, d.reason]),
    );
    const rows = await page
      .locator('#dropped-table tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')),
      );
    expect(rows.map((r) => [r[0], r[1], r[2]!.split(' ')[0]])).toEqual(drops);
    expect(rows.find((r) => r[2]!.startsWith('max_turns'))![2]).toContain(
      "beyond the policy's history.maxTurns",
    );
    const turnDrop = drops.find(([, id]) => id.startsWith('turn:'))!;
    expect(await page.locator('#dropped-table a', { hasText: turnDrop[1] }).getAttribute('href')).toBe(
      `#ev-${turnDrop[1].slice(5)}`,
    );
    const factDrop = drops.find(([, id]) => id.startsWith('fact:'))!;
    expect(await page.locator('#dropped-table a', { hasText: factDrop[1] }).getAttribute('href')).toBe(
      `#fact-${factDrop[1].slice(5)}`,
    );
    // Facts retrieved for the input, with citations into this session's log.
    const factIds = await page.locator('#facts > li').evaluateAll((lis) => lis.map((li) => li.id));
    expect(factIds).toContain(`fact-${factDrop[1].slice(5)}`);
    const seededFact = seeded.facts.find((f) => factIds.includes(`fact-${f.id}`))!;
    expect(await page.locator(`[id="fact-${seededFact.id}"] a.cite`).count()).toBe(1);

    // Per-store timings as numbers next to their bars.
    for (const [step, ms] of Object.entries(ctx.timings) as [string, number][]) {
      expect(await text(page, `#timings tr[data-step="${step}"] .bar-text`)).toBe(`${ms.toFixed(1)} ms`);
    }
    expect(Object.keys(ctx.timings)).toEqual(
      expect.arrayContaining(['session', 'facts', 'profile', 'recall']),
    );

    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    const png = fs.readFileSync(SCREENSHOT);
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    console.log(`inspector screenshot: ${SCREENSHOT} (${png.length} bytes)`);
    if (process.env.INSPECTOR_SCREENSHOT) fs.copyFileSync(SCREENSHOT, process.env.INSPECTOR_SCREENSHOT);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('has no WCAG 2 A/AA violations that axe-core finds, with a loaded session and a built context', async () => {
    // bypassCSP: axe is injected by the test; the page itself runs only its own script.
    const { page } = await openInspector({ bypassCSP: true });
    await loadSession(page, tenant.key, seeded.sessionId);
    await page.getByLabel('Input', { exact: true }).fill('Where is order 4417?');
    await page.getByLabel('Route').fill(seeded.route);
    await page.getByRole('button', { name: 'Build context' }).click();
    await page.waitForSelector('#ctx-result:not([hidden])');
    await page.locator('#messages summary').click();
    await page.addScriptTag({ path: path.join(__dirname, '../../node_modules/axe-core/axe.min.js') });
    const violations = await page.evaluate(async () => {
      const result = await window.axe.run(document, {
        runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'],
      });
      return result.violations.map((v) => ({
        id: v.id,
        targets: v.nodes.map((n) => n.target.join(' ')),
      }));
    });
    expect(violations).toEqual([]);
    await page.context().close();
  });
});
