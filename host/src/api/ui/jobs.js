// Jobs: search by id, or list by status, type and group (GET /v1/jobs);
// one job's page (GET /v1/jobs/{id}) with its children as a tree
// (GET /v1/jobs/{id}/children), cancel and replay.
import { api, h, fill, num, when, badge, jobLink, pretty, errorBox, confirmAction, go, intParam, money } from './lib.js';

const STATUSES = ['pending', 'running', 'scheduled', 'suspended', 'dead', 'completed', 'cancelled'];
const PAGE = 50;

export async function jobs(view, _parts, params) {
  const status = params.get('status') || 'pending';
  const type = params.get('type') || '';
  const group = params.get('group') || '';
  const offset = intParam(params, 'offset');
  const idInput = h('input', { name: 'id', placeholder: 'job id', 'aria-label': 'job id' });
  const typeSelect = h('select', { name: 'type' }, h('option', { value: '' }, 'any type'));
  const form = h('form', { class: 'filters', 'data-test': 'job-filters' },
    h('label', {}, 'Status', h('select', { name: 'status' }, STATUSES.map((s) => h('option', { value: s, selected: s === status }, s)))),
    h('label', {}, 'Type', typeSelect),
    h('label', {}, 'Group', h('input', { name: 'group', value: group, placeholder: 'any group' })),
    h('button', { type: 'submit' }, 'List'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const f = new FormData(form);
    go('jobs', { status: f.get('status'), type: f.get('type'), group: f.get('group') });
  });
  const byId = h('form', { class: 'filters', 'data-test': 'job-search' }, h('label', {}, 'Open a job', idInput), h('button', { type: 'submit' }, 'Open'));
  byId.addEventListener('submit', (e) => {
    e.preventDefault();
    if (idInput.value.trim()) go('job/' + encodeURIComponent(idInput.value.trim()));
  });
  const results = h('div', { class: 'slot' }, h('p', { class: 'muted' }, 'Loading…'));
  fill(view, h('h1', {}, 'Jobs'), byId, form, results);
  api('GET', '/v1/job-types').then((r) => {
    for (const t of r.job_types) typeSelect.append(h('option', { value: t.job_type, selected: t.job_type === type }, t.job_type));
  }).catch(() => {});
  try {
    const q = new URLSearchParams({ status, offset, limit: PAGE });
    if (type) q.set('type', type);
    if (group) q.set('group', group);
    const page = await api('GET', '/v1/jobs?' + q);
    fill(results,
      h('p', { class: 'muted', 'data-test': 'total' }, `${num(page.total)} in the ${status} index` + (type || group ? ' (before filters)' : '')),
      jobTable(page.jobs),
      pager('jobs', { status, type, group }, offset, page.next_offset));
  } catch (e) {
    fill(results, errorBox(e));
  }
}

function jobTable(list) {
  if (!list.length) return h('p', { class: 'muted', 'data-test': 'empty' }, 'No jobs here.');
  return h('div', { class: 'scroll' }, h('table', { 'data-test': 'jobs' },
    h('thead', {}, h('tr', {}, ['Id', 'Type', 'Status', 'Group', 'Attempts', 'Updated', 'Last error'].map((t) => h('th', {}, t)))),
    h('tbody', {}, list.map((j) => h('tr', { 'data-id': j.id },
      h('td', {}, jobLink(j.id)), h('td', { class: 'mono' }, j.job_type), h('td', {}, badge(j.status)),
      h('td', {}, j.group || '–'), h('td', { class: 'num' }, num(j.attempts)), h('td', {}, when(j.updated_at)),
      h('td', { class: 'wrap' }, j.last_error || '–'))))));
}

export function pager(path, params, offset, next) {
  const prev = Math.max(0, offset - PAGE);
  return h('div', { class: 'pager' },
    h('button', { class: 'quiet', disabled: offset === 0, onclick: () => go(path, { ...params, offset: prev }) }, '‹ Previous'),
    h('span', { class: 'muted' }, `from ${num(offset)}`),
    h('button', { class: 'quiet', disabled: next === null || next === undefined, 'data-test': 'next', onclick: () => go(path, { ...params, offset: next }) }, 'Next ›'));
}

export async function job(view, parts) {
  const id = parts.join('/');
  const notice = h('div', { class: 'slot' });
  fill(view, h('h1', {}, 'Job ', h('span', { class: 'mono' }, id)), notice, h('p', { class: 'muted' }, 'Loading…'));
  let j;
  try {
    j = await api('GET', '/v1/jobs/' + encodeURIComponent(id));
  } catch (e) {
    fill(view, h('h1', {}, 'Job ', h('span', { class: 'mono' }, id)),
      e.status === 404 ? h('div', { class: 'error', role: 'alert', 'data-test': 'error' }, `No job with id ${id} (it never existed, or it expired).`) : errorBox(e));
    return;
  }
  const actions = h('div', { class: 'actions' });
  if (!['completed', 'dead', 'cancelled'].includes(j.status)) {
    actions.append(h('button', { class: 'danger', 'data-action': 'cancel', onclick: () => act(notice, `Cancel job ${id}?`, 'POST', `/v1/jobs/${encodeURIComponent(id)}/cancel`) }, 'Cancel'));
  }
  if (j.status === 'dead') {
    actions.append(h('button', { 'data-action': 'replay', onclick: () => act(notice, `Replay job ${id}?`, 'POST', '/v1/dlq/replay', { ids: [id] }) }, 'Replay'));
  }
  actions.append(h('button', { class: 'quiet', onclick: () => window.dispatchEvent(new HashChangeEvent('hashchange')) }, 'Refresh'));
  const facts = [
    ['Status', badge(j.status)], ['Type', h('span', { class: 'mono' }, j.job_type)],
    ['Attempts', `${j.attempts} of ${j.max_retries + 1}`], ['Priority', j.priority], ['Group', j.group || '–'],
    ['Parent', j.parent ? jobLink(j.parent) : '–'], ['Depends on', j.depends_on.length ? j.depends_on.map((d) => [jobLink(d), ' ']) : '–'],
    ['Host', j.worker || '–'], ['Created', when(j.created_at)], ['Started', when(j.started_at)], ['Finished', when(j.finished_at)],
    ['Progress', j.progress === null ? '–' : [h('progress', { max: 1, value: j.progress }), ` ${Math.round(j.progress * 100)}% ${j.progress_message || ''}`]],
    ['LLM usage', `${num(j.llm_calls)} calls, ${num(j.prompt_tokens)} prompt + ${num(j.completion_tokens)} completion tokens` + (j.cache_hit ? ' (result from the content store)' : '')],
    ['LLM cost', money(j.llm_cost) + (j.llm_route ? ` (${j.llm_route})` : '')],
    ['Children', `${num(j.children.total)} submitted, ${num(j.children.finished)} finished, ${num(j.children.failed)} failed`],
  ];
  fill(view,
    h('h1', {}, 'Job ', h('span', { class: 'mono', 'data-test': 'job-id' }, id)),
    notice, actions,
    h('dl', { class: 'facts', 'data-test': 'facts' }, facts.map(([k, v]) => [h('dt', {}, k), h('dd', { 'data-fact': k }, v)])),
    h('h2', {}, 'Payload'), h('pre', { 'data-test': 'payload' }, pretty(j.payload)),
    h('h2', {}, 'Result'), h('pre', { 'data-test': 'result' }, pretty(j.result)),
    h('h2', {}, 'Attempts and errors'), errorTable(j.errors),
    j.llm_asks.length ? [h('h2', {}, `LLM asks (${num(j.llm_asks_total)})`), askTable(j.llm_asks)] : null,
    j.children.total ? [h('h2', {}, 'Children'), childTree(id)] : null);
}

// Each ask of the job's LLM calls: the first answer and every re-ask, with
// what made the host ask again.
function askTable(asks) {
  return h('div', { class: 'scroll' }, h('table', { 'data-test': 'llm-asks' },
    h('thead', {}, h('tr', {}, ['Ask', 'Model', 'Lane', 'Tokens in / out', 'Cost', 'HTTP tries', 'Problem'].map((t) => h('th', {}, t)))),
    h('tbody', {}, asks.map((a) => h('tr', {},
      h('td', { class: 'num' }, a.ask), h('td', { class: 'mono' }, a.model), h('td', {}, a.lane),
      h('td', { class: 'num' }, `${num(a.prompt_tokens)} / ${num(a.completion_tokens)}`),
      h('td', { class: 'num' }, money(a.cost_micros)), h('td', { class: 'num' }, a.http_attempts),
      h('td', { class: 'wrap' }, a.problem || '–'))))));
}

function errorTable(errors) {
  if (!errors.length) return h('p', { class: 'muted' }, 'No failed attempt.');
  return h('div', { class: 'scroll' }, h('table', { 'data-test': 'errors' },
    h('thead', {}, h('tr', {}, ['Attempt', 'Kind', 'Message', 'Host', 'At'].map((t) => h('th', {}, t)))),
    h('tbody', {}, errors.map((e) => h('tr', {},
      h('td', { class: 'num' }, e.attempt), h('td', {}, e.kind), h('td', { class: 'wrap' }, e.message),
      h('td', {}, e.host || '–'), h('td', {}, when(e.at)))))));
}

/** A job's children, a page at a time, each expandable into its own. */
function childTree(id) {
  const list = h('ul', { class: 'tree', 'data-children-of': id });
  let offset = 0;
  const more = h('button', { class: 'quiet' }, 'More');
  async function load() {
    try {
      const page = await api('GET', `/v1/jobs/${encodeURIComponent(id)}/children?offset=${offset}&limit=100`);
      offset += page.jobs.length;
      for (const c of page.jobs) {
        const li = h('li', { 'data-child': c.id }, jobLink(c.id), ' ', badge(c.status), ' ', h('span', { class: 'muted mono' }, c.job_type || ''));
        const open = h('button', { class: 'quiet', 'aria-label': 'show its children' }, '+');
        open.addEventListener('click', () => { open.remove(); li.append(childTree(c.id)); }, { once: true });
        li.append(' ', open);
        list.append(li);
      }
      if (offset < page.total) list.append(h('li', {}, more));
      else more.remove();
      if (!page.total) list.append(h('li', { class: 'muted' }, 'none'));
    } catch (e) {
      list.append(h('li', {}, errorBox(e)));
    }
  }
  more.addEventListener('click', () => { more.parentElement?.remove(); load(); });
  load();
  return list;
}

/** Runs an action after confirmation; says what came of it in `notice`. */
export async function act(notice, question, method, path, body) {
  if (!(await confirmAction(question))) return null;
  try {
    const r = await api(method, path, body);
    fill(notice, h('div', { class: 'notice', role: 'status', 'data-test': 'notice' }, 'Done: ' + JSON.stringify(r)));
    return r;
  } catch (e) {
    fill(notice, errorBox(e));
    return null;
  }
}
