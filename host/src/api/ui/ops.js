// Dead letters (GET /v1/dlq; POST /v1/dlq/replay and /v1/dlq/purge),
// plugins (GET /v1/plugins, GET /v1/job-types), bulk runs
// (GET /v1/bulk/{id}, GET /v1/bulk/{id}/results.jsonl).
import { api, h, fill, num, when, badge, jobLink, errorBox, go, intParam, money } from './lib.js';
import { act, pager } from './jobs.js';

const PAGE = 50;

export async function dlq(view, _parts, params) {
  const offset = intParam(params, 'offset');
  const notice = h('div', { class: 'slot' });
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  fill(view, h('h1', {}, 'Dead letters'), notice, body);
  let page;
  try {
    page = await api('GET', `/v1/dlq?offset=${offset}&limit=${PAGE}`);
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  const boxes = page.jobs.map((j) => h('input', { type: 'checkbox', value: j.id, 'aria-label': 'select ' + j.id }));
  const selected = () => boxes.filter((b) => b.checked).map((b) => b.value);
  // Later, and only if the dead letters are still what is shown: a reload
  // must not redraw a page the user went on to (and lose what they typed).
  const here = location.hash;
  const reload = () => {
    if (location.hash === here && view.isConnected) window.dispatchEvent(new HashChangeEvent('hashchange'));
  };
  const run = async (verb, ids) => {
    const what = ids ? `${ids.length} selected job${ids.length === 1 ? '' : 's'}` : `all ${num(page.total)} dead jobs`;
    const question = verb === 'replay' ? `Replay ${what}? They run again from a fresh attempt.` : `Purge ${what}? They are deleted for good.`;
    const r = await act(notice, question, 'POST', `/v1/dlq/${verb}`, ids ? { ids } : { all: true });
    if (r) setTimeout(reload, 800);
  };
  const needSelection = (verb) => () => {
    const ids = selected();
    if (!ids.length) fill(notice, h('div', { class: 'error', role: 'alert' }, 'Select at least one job first.'));
    else run(verb, ids);
  };
  const all = h('input', { type: 'checkbox', 'aria-label': 'select all on this page', onchange: (e) => boxes.forEach((b) => { b.checked = e.target.checked; }) });
  fill(body,
    h('p', { class: 'muted', 'data-test': 'total' }, `${num(page.total)} jobs in the dead-letter queue`),
    h('div', { class: 'actions' },
      h('button', { 'data-action': 'replay-selected', onclick: needSelection('replay') }, 'Replay selected'),
      h('button', { class: 'danger', 'data-action': 'purge-selected', onclick: needSelection('purge') }, 'Purge selected'),
      h('button', { class: 'quiet', 'data-action': 'replay-all', disabled: !page.total, onclick: () => run('replay') }, 'Replay all'),
      h('button', { class: 'quiet', 'data-action': 'purge-all', disabled: !page.total, onclick: () => run('purge') }, 'Purge all')),
    page.jobs.length ? h('div', { class: 'scroll' }, h('table', { 'data-test': 'dlq' },
      h('thead', {}, h('tr', {}, h('th', {}, all), ['Id', 'Type', 'Died', 'Attempts', 'Reason'].map((t) => h('th', {}, t)))),
      h('tbody', {}, page.jobs.map((j, i) => h('tr', { 'data-id': j.id },
        h('td', {}, boxes[i]), h('td', {}, jobLink(j.id)), h('td', { class: 'mono' }, j.job_type),
        h('td', {}, when(j.finished_at)), h('td', { class: 'num' }, num(j.attempts)),
        h('td', { class: 'wrap' }, reason(j))))))) : h('p', { class: 'muted', 'data-test': 'empty' }, 'The dead-letter queue is empty.'),
    pager('dlq', {}, offset, offset + PAGE < page.total ? offset + PAGE : null));
}

function reason(j) {
  const e = j.errors[j.errors.length - 1];
  return e ? `[${e.kind}] ${e.message}` : '–';
}

export async function plugins(view) {
  fill(view, h('h1', {}, 'Plugins'), h('p', { class: 'muted' }, 'Loading…'));
  try {
    const [p, t] = await Promise.all([api('GET', '/v1/plugins'), api('GET', '/v1/job-types')]);
    const types = new Map(t.job_types.map((x) => [x.job_type, x]));
    const limits = (name) => {
      const x = types.get(name);
      if (!x) return '–';
      const out = [];
      if (x.paused) out.push('paused');
      if (x.max_running !== null && x.max_running !== undefined) out.push(`at most ${x.max_running} running`);
      if (x.rate_limit) out.push(`${x.rate_limit.jobs} per ${x.rate_limit.interval_ms} ms`);
      return out.join('; ') || 'none';
    };
    fill(view, h('h1', {}, 'Plugins'),
      h('p', { class: 'muted' }, `${p.plugins.length} loaded on this host`),
      h('div', { class: 'scroll' }, h('table', { 'data-test': 'plugins' },
        h('thead', {}, h('tr', {}, ['Plugin', 'Version', 'Version id', 'Job type', 'Timeout', 'Memory', 'LLM', 'Limits'].map((x) => h('th', {}, x)))),
        h('tbody', {}, p.plugins.flatMap((pl) => pl.job_types.map((jt, i) => h('tr', { 'data-plugin': pl.name, 'data-job-type': jt.name },
          h('td', { class: 'mono' }, i ? '' : pl.name), h('td', {}, i ? '' : pl.version), h('td', { class: 'mono' }, i ? '' : String(pl.version_id).slice(0, 12)),
          h('td', { class: 'mono' }, jt.name), h('td', { class: 'num' }, `${num(jt.timeout_ms)} ms`),
          h('td', { class: 'num' }, `${num(Math.round(jt.memory_limit_bytes / 1048576))} MiB`),
          h('td', {}, jt.needs_llm ? 'yes' : 'no'), h('td', {}, limits(jt.name)))))))),
      h('h2', {}, 'Grants'),
      h('p', { class: 'muted' }, 'What each plugin asks for, against what deckhand.toml grants it ([plugins.NAME]); anything not granted is refused.'),
      h('div', { class: 'scroll' }, h('table', { 'data-test': 'grants' },
        h('thead', {}, h('tr', {}, ['Plugin', 'Asks', 'Granted'].map((x) => h('th', {}, x)))),
        h('tbody', {}, p.plugins.map((pl) => h('tr', { 'data-plugin': pl.name },
          h('td', { class: 'mono' }, pl.name),
          h('td', { class: 'wrap', 'data-test': 'asked' }, asked(pl.grants.asked)),
          h('td', { class: 'wrap', 'data-test': 'granted' }, granted(pl.grants.granted))))))),
      h('h2', {}, 'Load errors'),
      p.errors.length ? h('ul', { 'data-test': 'plugin-errors' }, p.errors.map((e) => h('li', {}, h('span', { class: 'mono' }, e.path), ': ', e.error)))
        : h('p', { class: 'muted', 'data-test': 'plugin-errors' }, 'None.'));
  } catch (e) {
    fill(view, h('h1', {}, 'Plugins'), errorBox(e));
  }
}

/** A list for a grant's cell: "a, b", or "–". */
function items(xs) {
  return xs && xs.length ? xs.join(', ') : '–';
}

function asked(a) {
  if (!a.outbound_hosts.length && !a.key_value && !a.variables.length && !a.llm_models.length) return 'nothing';
  return `hosts ${items(a.outbound_hosts)}; key-value ${a.key_value ? 'yes' : 'no'}; variables ${items(a.variables)}; models ${items(a.llm_models)}`;
}

function granted(g) {
  if (!g.outbound_hosts.length && !g.key_value && !g.variables.length && !g.llm_models.length) return 'nothing (the LLM as the host\'s [llm] allows it, to job types that declare needs-llm)';
  const vars = g.variables.map((v) => `${v.name} (${v.source}${v.secret ? ', secret' : ''})`);
  const kv = g.key_value ? `${num(g.key_value.quota_bytes)} bytes` : 'no';
  return `hosts ${items(g.outbound_hosts)}; methods ${items(g.methods)}; addresses ${items(g.addresses)}; key-value ${kv}; variables ${items(vars)}; models ${items(g.llm_models)}`;
}

const ROW_STATES = ['', 'verified', 'needs_review', 'rejected', 'dead', 'cancelled', 'pending', 'running', 'suspended', 'waiting', 'scheduled', 'missing'];

/** "alignment" as a column title: "Alignment". */
function title(name) {
  return name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, ' ');
}

export async function bulk(view, parts, params) {
  const id = parts.join('/');
  const input = h('input', { name: 'id', value: id, placeholder: 'bulk job id', 'aria-label': 'bulk job id' });
  const pick = h('form', { class: 'filters', 'data-test': 'bulk-open' }, h('label', {}, 'Bulk run', input), h('button', { type: 'submit' }, 'Open'));
  pick.addEventListener('submit', (e) => { e.preventDefault(); if (input.value.trim()) go('bulk/' + encodeURIComponent(input.value.trim())); });
  const body = h('div', { class: 'slot' });
  fill(view, h('h1', {}, 'Bulk runs'), pick, body);
  if (!id) {
    try {
      const recent = await api('GET', '/v1/jobs?status=completed&type=bulk&limit=20');
      fill(body, h('h2', {}, 'Recent bulk runs'), recent.jobs.length
        ? h('ul', {}, recent.jobs.map((j) => h('li', {}, h('a', { href: '#/bulk/' + encodeURIComponent(j.id), class: 'mono' }, j.id), ' ', h('span', { class: 'muted' }, when(j.updated_at)))))
        : h('p', { class: 'muted' }, 'None among the latest finished jobs.'));
    } catch (e) {
      fill(body, errorBox(e));
    }
    return;
  }
  const state = params.get('state') || '';
  const offset = intParam(params, 'offset');
  try {
    const q = new URLSearchParams({ offset, limit: PAGE });
    if (state) q.set('state', state);
    const page = await api('GET', `/v1/bulk/${encodeURIComponent(id)}?${q}`);
    // The jobs a row is made of, as the run's result names them.
    const columns = Array.isArray(page.columns) ? page.columns.map(String) : [];
    const filter = h('select', { name: 'state', 'aria-label': 'state', onchange: (e) => go('bulk/' + encodeURIComponent(id), { state: e.target.value }) },
      ROW_STATES.map((s) => h('option', { value: s, selected: s === state }, s || 'any state')));
    fill(body,
      h('p', { 'data-test': 'records' }, `${num(page.records)} records in run `, jobLink(id), '. ',
        h('span', { 'data-test': 'run-spend' }, `LLM spend: ${money(page.llm_spend_micros?.total)}. `),
        h('a', { href: `/v1/bulk/${encodeURIComponent(id)}/results.jsonl`, download: `${id}.jsonl`, 'data-test': 'download' }, 'Download the results (JSONL)')),
      h('div', { class: 'filters' }, h('label', {}, 'Show', filter)),
      page.rows.length ? h('div', { class: 'scroll' }, h('table', { 'data-test': 'bulk-rows' },
        h('thead', {}, h('tr', {}, ['#', 'State', 'Score', ...columns.map(title), 'Error'].map((x) => h('th', {}, x)))),
        h('tbody', {}, page.rows.map((r) => h('tr', { 'data-index': r.index, 'data-state': r.state },
          h('td', { class: 'num' }, r.index), h('td', {}, badge(r.state)), h('td', { class: 'num' }, r.score ?? '–'),
          columns.map((c) => h('td', {}, jobLink(r[c]?.id ?? ''), ' ', badge(r[c]?.status ?? 'missing'))),
          h('td', { class: 'wrap' }, columns.map((c) => r[c]?.error).find(Boolean) || '–')))))) : h('p', { class: 'muted', 'data-test': 'empty' }, 'No records here.'),
      pager('bulk/' + encodeURIComponent(id), { state }, offset, page.next_offset));
  } catch (e) {
    fill(body, errorBox(e));
  }
}
