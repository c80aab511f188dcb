// Overview: the queue at a glance (GET /v1/overview), polled every 2 s.
// The layout is built once and only its figures change, so nothing moves
// while data arrives.
import { api, h, fill, num, ago, errorBox, confirmAction, money } from './lib.js';

const POLL_MS = 2000;

const FIGURES = [
  ['ready', 'Ready'],
  ['running', 'Running'],
  ['scheduled', 'Scheduled'],
  ['suspended', 'Awaiting an answer'],
  ['dead_letter', 'Dead letters'],
  ['completed_hour', 'Completed, last hour'],
  ['per_minute', 'Per minute, last 5 min'],
  ['llm_calls', 'LLM calls'],
  ['llm_tokens', 'LLM tokens'],
  ['llm_errors', 'LLM errors'],
  ['llm_spend_today', 'LLM spend, today (UTC)'],
  ['llm_spend', 'LLM spend, ever'],
  ['cache_hits', 'Content-store hits'],
];

export async function overview(view) {
  const figures = {};
  const figureBoxes = FIGURES.map(([key, label]) => {
    figures[key] = h('div', { class: 'value', 'data-figure': key }, '–');
    return h('div', { class: 'figure' }, h('div', { class: 'label' }, label), figures[key]);
  });
  const status = h('div', { class: 'slot' });
  const chart = svg('svg', { class: 'chart', viewBox: '0 0 600 120', preserveAspectRatio: 'none', role: 'img', 'aria-label': 'jobs ended per minute, last hour' });
  const caption = h('p', { class: 'muted', 'data-test': 'chart-caption' }, 'Blue: completed; red: dead.');
  const types = h('tbody', { 'data-test': 'types' });
  const hosts = h('tbody', { 'data-test': 'hosts' });
  fill(view,
    h('h1', {}, 'Overview'),
    status,
    h('div', { class: 'figures' }, figureBoxes),
    h('h2', {}, 'Jobs ended per minute, last hour'),
    chart,
    caption,
    h('h2', {}, 'Job types'),
    h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Job type', 'Ready', 'Running', 'Completed', 'Dead', 'Limits', 'State', ''].map((t, i) => h('th', { class: i && i < 5 ? 'num' : null }, t)))),
      types)),
    h('h2', {}, 'Hosts'),
    h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Host', 'Running', 'Memory', 'Processed', 'Last heartbeat'].map((t, i) => h('th', { class: i && i < 4 ? 'num' : null }, t)))),
      hosts)),
  );
  let rows = new Map();
  let timer = null;
  let stopped = false;

  async function tick() {
    try {
      const o = await api('GET', '/v1/overview');
      if (stopped) return;
      fill(status);
      const stats = o.stats || {};
      const sum = (k) => o.job_types.reduce((a, t) => a + t[k], 0);
      const hour = o.throughput.reduce((a, m) => a + m.completed, 0);
      const last5 = o.throughput.slice(-6, -1).reduce((a, m) => a + m.completed, 0) / 5;
      const values = {
        ready: sum('ready'), running: o.running, scheduled: o.scheduled, suspended: o.suspended, dead_letter: o.dead_letter,
        completed_hour: hour, per_minute: Math.round(last5),
        llm_calls: stats.llm_calls || 0,
        llm_tokens: (stats.llm_prompt_tokens || 0) + (stats.llm_completion_tokens || 0),
        llm_errors: stats.llm_errors || 0, cache_hits: stats.cache_hits || 0,
      };
      for (const [k, v] of Object.entries(values)) figures[k].textContent = num(v);
      figures.llm_spend_today.textContent = money(o.bill?.today?.total);
      figures.llm_spend.textContent = money(o.bill?.ever?.total);
      caption.textContent = `Blue: completed; red: dead. Tallest minute: ${num(drawChart(chart, o.throughput))} jobs.`;
      rows = updateTypes(types, rows, o.job_types, tick);
      fill(hosts, Object.entries(o.hosts).map(([id, beat]) => h('tr', { 'data-host': id },
        h('td', { class: 'mono' }, id),
        h('td', { class: 'num' }, num(beat.running)),
        h('td', { class: 'num' }, num(beat.current_memory_mb) + ' MiB'),
        h('td', { class: 'num' }, num(beat.processed_jobs)),
        h('td', {}, ago(beat.at, o.now_ms)))));
    } catch (e) {
      if (!stopped) fill(status, errorBox(e));
    }
    if (!stopped) timer = setTimeout(tick, POLL_MS);
  }
  await tick();
  return () => { stopped = true; clearTimeout(timer); };
}

/** Keeps one row per job type, updated in place. */
function updateTypes(tbody, rows, list, refresh) {
  const names = list.map((t) => t.job_type).join('\n');
  if ([...rows.keys()].join('\n') !== names) {
    rows = new Map(list.map((t) => [t.job_type, typeRow(t.job_type, refresh)]));
    fill(tbody, [...rows.values()].map((r) => r.tr));
  }
  for (const t of list) rows.get(t.job_type).update(t);
  return rows;
}

function typeRow(name, refresh) {
  const cells = {};
  const cell = (k, cls) => (cells[k] = h('td', { class: cls, 'data-col': k }));
  const button = h('button', { class: 'quiet', 'data-action': 'pause' });
  let paused = false;
  button.addEventListener('click', async () => {
    const verb = paused ? 'resume' : 'pause';
    if (!(await confirmAction(`${verb[0].toUpperCase() + verb.slice(1)} job type ${name} on every host?`))) return;
    button.disabled = true;
    try {
      await api('POST', `/v1/job-types/${encodeURIComponent(name)}/${verb}`);
    } finally {
      button.disabled = false;
      refresh();
    }
  });
  const tr = h('tr', { 'data-type': name },
    h('td', { class: 'mono' }, h('a', { href: `#/jobs?status=pending&type=${encodeURIComponent(name)}` }, name)),
    cell('ready', 'num'), cell('running', 'num'), cell('completed', 'num'), cell('dead', 'num'),
    cell('limits'), cell('state'), h('td', {}, button));
  return {
    tr,
    update(t) {
      for (const k of ['ready', 'running', 'completed', 'dead']) cells[k].textContent = num(t[k]);
      const limits = [];
      if (t.cap !== null && t.cap !== undefined) limits.push(`at most ${t.cap} running`);
      if (t.rate_limit) limits.push(`${t.rate_limit.jobs} per ${t.rate_limit.interval_ms} ms`);
      cells.limits.textContent = limits.join('; ') || '–';
      cells.state.textContent = t.paused ? 'paused' : t.live ? 'served' : 'no live host';
      paused = t.paused;
      button.textContent = t.paused ? 'Resume' : 'Pause';
    },
  };
}

function svg(tag, attrs) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
}

function drawChart(el, minutes) {
  const max = Math.max(0, ...minutes.map((m) => m.completed + m.dead));
  const scale = Math.max(1, max);
  const w = 600 / minutes.length;
  const bars = [];
  minutes.forEach((m, i) => {
    const hc = (m.completed / scale) * 104;
    const hd = (m.dead / scale) * 104;
    bars.push(svg('rect', { class: 'c', x: i * w + 1, y: 110 - hc, width: w - 2, height: hc }));
    bars.push(svg('rect', { class: 'd', x: i * w + 1, y: 110 - hc - hd, width: w - 2, height: hd }));
  });
  el.replaceChildren(...bars);
  return max;
}
