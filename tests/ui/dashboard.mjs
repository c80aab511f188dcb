// The dashboard in a real browser: Debian's chromium, driven by
// playwright-core. tests/dashboard.rs starts a host (with an API token) on
// a real Redis, fills it with jobs, and runs this with:
//   DASH_BASE            the host's address (http://127.0.0.1:port)
//   DASH_TOKEN           its API token
//   DASH_EXPIRED_COOKIE  a session cookie value that has expired
//   DASH_SCREENSHOTS     where the page screenshots go
//   CHROMIUM             the browser (default /usr/bin/chromium)
// Each step checks what the page shows against the API; the exit code is
// the number of failed steps (0: all passed).
import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import path from 'node:path';

const base = process.env.DASH_BASE;
const token = process.env.DASH_TOKEN;
const shots = process.env.DASH_SCREENSHOTS;
const expiredCookie = process.env.DASH_EXPIRED_COOKIE;
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

async function api(p, init = {}) {
  const r = await fetch(base + p, {
    ...init,
    headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json', ...(init.headers || {}) },
  });
  return { status: r.status, body: await r.json() };
}

const num = (n) => Number(n).toLocaleString('en-US');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(what, check, ms = 15000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await sleep(150);
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

let failed = 0;
async function step(name, fn) {
  try {
    await fn();
    console.log('ok   ' + name);
  } catch (e) {
    failed += 1;
    console.log('FAIL ' + name + '\n' + (e.stack || e));
  }
}

const browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light' });
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
page.setDefaultTimeout(15000);
const shot = (name, p = page) => p.screenshot({ path: path.join(shots, name + '.png'), fullPage: true });
const go = async (hash) => {
  await page.evaluate((h) => { location.hash = h; }, hash);
  await page.waitForFunction((h) => location.hash === h, hash);
};
const text = (sel) => page.locator(sel).first().innerText();
const confirm = async () => {
  await page.locator('#confirm[open]').waitFor();
  await page.click('#confirm-ok');
};

await step('without a session the page sends the browser to the login form', async () => {
  await page.goto(base + '/ui/');
  assert.match(page.url(), /\/ui\/login$/);
  await page.fill('#token', 'not-the-token');
  await Promise.all([page.waitForLoadState(), page.click('button[type=submit]')]);
  assert.match(await page.content(), /not the API token/);
});

await step('the token logs in and the overview fills in', async () => {
  await page.fill('#token', token);
  await Promise.all([page.waitForURL(base + '/ui/'), page.click('button[type=submit]')]);
  await page.locator('[data-figure=dead_letter]').filter({ hasNotText: '–' }).waitFor();
  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === 'deckhand_session');
  assert.ok(session && session.httpOnly && session.sameSite === 'Strict', JSON.stringify(cookies));
});

await step('overview figures match the API', async () => {
  const { body: o } = await api('/v1/overview');
  const ready = o.job_types.reduce((a, t) => a + t.ready, 0);
  assert.equal(await text('[data-figure=dead_letter]'), num(o.dead_letter));
  assert.equal(await text('[data-figure=ready]'), num(ready));
  assert.equal(await text('[data-figure=scheduled]'), num(o.scheduled));
  const money = (micros) => (Number(micros || 0) / 1e6).toLocaleString('en-US', { maximumFractionDigits: 6 });
  assert.ok(o.bill && o.bill.ever && o.bill.today, JSON.stringify(o.bill));
  assert.equal(await text('[data-figure=llm_spend]'), money(o.bill.ever.total));
  assert.equal(await text('[data-figure=llm_spend_today]'), money(o.bill.today.total));
  const hour = o.throughput.reduce((a, m) => a + m.completed, 0);
  await until('completed in the last hour', async () => (await text('[data-figure=completed_hour]')) === num(hour));
  for (const t of o.job_types) {
    const row = page.locator(`tr[data-type="${t.job_type}"]`);
    assert.equal(await row.locator('[data-col=ready]').innerText(), num(t.ready), t.job_type);
    assert.equal(await row.locator('[data-col=completed]').innerText(), num(t.completed), t.job_type);
    assert.equal(await row.locator('[data-col=dead]').innerText(), num(t.dead), t.job_type);
    assert.equal(await row.locator('[data-col=state]').innerText(), t.paused ? 'paused' : 'served', t.job_type);
  }
  for (const host of Object.keys(o.hosts)) assert.equal(await page.locator(`tr[data-host="${host}"]`).count(), 1);
  assert.equal(await page.locator('svg.chart rect').count(), 120);
  const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, 'rgb(247, 247, 245)', 'light theme');
  await shot('overview');
});

await step('live updates move nothing on the page', async () => {
  const shift = await page.evaluate(() => new Promise((resolve) => {
    let total = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) total += e.value;
    }).observe({ type: 'layout-shift' });
    setTimeout(() => resolve(total), 4500);
  }));
  assert.equal(shift, 0, 'cumulative layout shift over two refreshes');
});

await step('jobs: list by status, type and group, matching the API', async () => {
  await go('#/jobs?status=dead');
  await page.locator('[data-test=total]').waitFor();
  const { body: dead } = await api('/v1/jobs?status=dead&limit=50');
  assert.equal(await page.locator('table[data-test=jobs] tbody tr').count(), dead.jobs.length);
  assert.equal(await page.locator('tr[data-id="doomed-0"]').count(), 1);
  await go('#/jobs?status=pending&type=echo&group=g1');
  await page.locator('[data-test=total]').waitFor();
  assert.equal(await page.locator('table[data-test=jobs] tbody tr').count(), 3);
});

await step('a job page: payload, result, errors, children as a tree', async () => {
  await go('#/jobs');
  await page.fill('form[data-test=job-search] input', 'doomed-0');
  await page.click('form[data-test=job-search] button');
  await page.locator('[data-test=job-id]').waitFor();
  assert.equal(await text('[data-fact=Status]'), 'dead');
  assert.match(await text('[data-test=payload]'), /"succeed_on": 2/);
  assert.match(await text('table[data-test=errors]'), /failed on purpose/);
  await go('#/job/fan');
  await page.locator('[data-test=job-id]').waitFor();
  await page.locator('li[data-child]').nth(2).waitFor();
  assert.equal(await page.locator('ul[data-children-of=fan] > li[data-child]').count(), 3);
  assert.match(await text('[data-test=result]'), /"children"/);
  await page.locator('ul[data-children-of=fan] > li[data-child] button').first().click();
  await page.locator('ul[data-children-of=fan] ul.tree li.muted').waitFor();
  await shot('job');
});

await step('a waiting job is cancelled from its page', async () => {
  await go('#/job/held-4');
  await page.locator('[data-action=cancel]').click();
  await confirm();
  await page.locator('[data-test=notice]').waitFor();
  assert.equal((await api('/v1/jobs/held-4')).body.status, 'cancelled');
});

await step('bad input: an unknown id and a huge page number say what is wrong', async () => {
  await go('#/job/no-such-job');
  await page.locator('[data-test=error]').waitFor();
  assert.match(await text('[data-test=error]'), /No job with id no-such-job/);
  await go('#/jobs?status=dead&offset=999999999999');
  await page.locator('[data-test=error]').waitFor();
  assert.match(await text('[data-test=error]'), /offset must be/);
});

await step('dead letters: the list matches, cancel keeps them, replay runs one again', async () => {
  const before = (await api('/v1/dlq')).body.total;
  await go('#/dlq');
  await page.locator('[data-test=total]').waitFor();
  assert.match(await text('[data-test=total]'), new RegExp('^' + num(before) + ' jobs'));
  assert.equal(await page.locator('table[data-test=dlq] tbody tr').count(), Math.min(before, 50));
  await shot('dlq');
  await page.click('[data-action=purge-all]');
  await page.locator('#confirm[open]').waitFor();
  await page.click('#confirm button[value=cancel]');
  await sleep(300);
  assert.equal((await api('/v1/dlq')).body.total, before, 'cancelled purge purged nothing');
  await page.check('tr[data-id="replay-me"] input[type=checkbox]');
  await page.click('[data-action=replay-selected]');
  await confirm();
  await page.locator('[data-test=notice]').waitFor();
  assert.match(await text('[data-test=notice]'), /replay-me/);
  await until('replay-me to complete', async () => (await api('/v1/jobs/replay-me')).body.status === 'completed');
});

await step('a forged request without the CSRF token is refused and changes nothing', async () => {
  const before = (await api('/v1/dlq')).body.total;
  const status = await page.evaluate(async () => {
    const r = await fetch('/v1/dlq/purge', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ all: true }) });
    return r.status;
  });
  assert.equal(status, 403);
  assert.equal((await api('/v1/dlq')).body.total, before);
});

await step('plugins: every loaded job type with its limits', async () => {
  await go('#/plugins');
  await page.locator('table[data-test=plugins]').waitFor();
  const { body: p } = await api('/v1/plugins');
  const types = p.plugins.reduce((a, x) => a + x.job_types.length, 0);
  assert.equal(await page.locator('table[data-test=plugins] tbody tr').count(), types);
  assert.match(await page.locator('tr[data-job-type=echo]').innerText(), /paused/);
  assert.equal(await page.locator('tr[data-job-type="bulk.report"]').count(), 1);
  // Asked against granted: the scraper asks for a key-value store and a
  // variable; this host grants it nothing.
  const grants = page.locator('table[data-test=grants] tr[data-plugin=scraper]');
  assert.match(await grants.locator('[data-test=asked]').innerText(), /key-value yes; variables api_token/);
  assert.match(await grants.locator('[data-test=granted]').innerText(), /^nothing/);
  assert.equal(await page.locator('table[data-test=grants] tr[data-plugin=echo] [data-test=asked]').innerText(), 'nothing');
  assert.equal(await page.locator('table[data-test=grants] tbody tr').count(), p.plugins.length);
  await until('the load error listed', async () => {
    await go('#/plugins?again=' + Date.now());
    await page.locator('[data-test=plugin-errors]').waitFor();
    return /broken\.wasm/.test(await text('[data-test=plugin-errors]'));
  });
  await shot('plugins');
});

await step('bulk runs: rows, a state filter, the JSONL download', async () => {
  await go('#/bulk');
  await page.locator('a[href="#/bulk/run-1"]').click();
  await page.locator('[data-test=records]').waitFor();
  assert.match(await text('[data-test=records]'), /^4 records/);
  const { body: all } = await api('/v1/bulk/run-1');
  assert.equal(await page.locator('table[data-test=bulk-rows] tbody tr').count(), all.rows.length);
  // The columns are the jobs the run's result names, each row's linked.
  const heads = await page.locator('table[data-test=bulk-rows] thead th').allInnerTexts();
  assert.deepEqual(heads, ['#', 'State', 'Score', 'Alignment', 'Validation', 'Error']);
  assert.equal(await page.locator('table[data-test=bulk-rows] tbody tr').first().locator('a[href="#/job/run-1.validate.0"]').count(), 1);
  const state = all.rows[0].state;
  await page.selectOption('select[name=state]', state);
  await page.waitForFunction((s) => location.hash.includes('state=' + s), state);
  await page.locator('table[data-test=bulk-rows]').waitFor();
  const shown = await page.locator('table[data-test=bulk-rows] tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.state));
  assert.equal(shown.length, all.rows.filter((r) => r.state === state).length);
  assert.ok(shown.every((s) => s === state), shown.join());
  const href = await page.locator('[data-test=download]').getAttribute('href');
  const download = await page.request.get(base + href);
  assert.equal(download.status(), 200);
  assert.equal((await download.text()).trim().split('\n').length, 4);
  await go('#/bulk/run-1');
  await page.locator('table[data-test=bulk-rows]').waitFor();
  await shot('bulk');
});

await step('the pause button resumes a paused type on every host', async () => {
  await go('#/');
  const row = page.locator('tr[data-type=echo]');
  await until('echo shown as paused', async () => (await row.locator('[data-col=state]').innerText()) === 'paused');
  await row.locator('[data-action=pause]').click();
  await confirm();
  await until('echo served', async () => (await row.locator('[data-col=state]').innerText()) === 'served');
  await until('the held echo jobs to run', async () => {
    const { body: o } = await api('/v1/overview');
    return o.job_types.find((t) => t.job_type === 'echo').ready === 0;
  });
  assert.equal((await api('/v1/job-types')).body.job_types.find((t) => t.job_type === 'echo').paused, false);
});

await step('review: a candidate clicked and sent completes the record, provenance reviewed', async () => {
  await go('#/review');
  const card = page.locator('section.review[data-id="review-me"]');
  await card.waitFor();
  assert.match(await card.locator('[data-test=context]').innerText(), /Hope Pantry/);
  assert.match(await card.locator('[data-test=context]').innerText(), /<b id=injected>/);
  assert.equal(await page.locator('#injected').count(), 0, 'markup in the record is shown as text');
  await card.locator('[data-test=candidate]').first().click();
  assert.equal(await card.locator('input.answer').inputValue(), 'tuesday and thursday 10am - noon');
  await shot('review');
  await card.locator('[data-action=send]').click();
  await card.locator('[data-test=answered], [data-test=error]').first().waitFor();
  assert.equal(await card.locator('[data-test=error]').count(), 0, await card.innerText());
  await until('the record completes', async () => (await api('/v1/jobs/review-me')).body.status === 'completed');
  const result = JSON.parse((await api('/v1/jobs/review-me')).body.result);
  assert.equal(result.hsds.location[0].schedules[0].byday, 'TU,TH');
  assert.equal(result.provenance['/location/0/schedules/0/opens_at'].how, 'reviewed');
  await go('#/');
  await go('#/review');
  await page.locator('[data-test=empty]').waitFor();
});

await step('a phone-sized screen in dark mode: no sideways scrolling, dark colours', async () => {
  const phone = await browser.newContext({
    viewport: { width: 390, height: 844 }, colorScheme: 'dark', isMobile: true, hasTouch: true,
    storageState: await context.storageState(),
  });
  const p = await phone.newPage();
  p.on('pageerror', (e) => pageErrors.push(String(e)));
  await p.goto(base + '/ui/');
  await p.locator('[data-figure=dead_letter]').filter({ hasNotText: '–' }).waitFor();
  const width = await p.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  assert.ok(width[0] <= width[1] + 1, `page is ${width[0]} px wide on a ${width[1]} px screen`);
  assert.equal(await p.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(21, 23, 26)');
  await shot('overview-phone-dark', p);
  await phone.close();
});

await step('an expired session goes to the login form, which says so', async () => {
  const stale = await browser.newContext();
  await stale.addCookies([{ name: 'deckhand_session', value: expiredCookie, url: base }]);
  const p = await stale.newPage();
  await p.goto(base + '/ui/');
  assert.match(p.url(), /\/ui\/login\?expired=1$/);
  assert.match(await p.content(), /session has expired/);
  await stale.close();
});

await step('logging out ends the session', async () => {
  await go('#/');
  await page.click('#logout button');
  // The form's redirect can race the page's own next request (now refused,
  // which also sends it to the login form); one aborts the other, so wait
  // for where the page lands, not for one navigation.
  await until('the login form after logging out', () => /\/ui\/login/.test(page.url()));
  await page.goto(base + '/ui/');
  assert.match(page.url(), /\/ui\/login$/);
});

await step('no script error on any page', async () => {
  assert.deepEqual(pageErrors, []);
});

await browser.close();
console.log(failed ? `${failed} step(s) failed` : 'all steps passed');
process.exit(failed ? 1 : 0);
