// Review (GET /v1/jobs?status=suspended, GET /v1/jobs/{id},
// POST /v1/tokens/{token}): the jobs waiting for a person's answer. Each
// shows its question beside the record it is about; the candidates are
// buttons that fill the answer, a free field takes anything else, and "no
// such value" says the record gives none. A question with `questions`
// (one per field) is answered as {"answers": {key: text | null}}; one
// without, as {"answer": text | null}.
import { api, h, fill, when, jobLink, errorBox } from './lib.js';

const PAGE = 20;

export async function review(view) {
  const body = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  fill(view, h('h1', {}, 'Review'), body);
  let jobs;
  try {
    const page = await api('GET', `/v1/jobs?status=suspended&limit=${PAGE}`);
    // The page's records at once, not one after another.
    jobs = await Promise.all(page.jobs.map((j) => api('GET', '/v1/jobs/' + encodeURIComponent(j.id))));
  } catch (e) {
    fill(body, errorBox(e));
    return;
  }
  // Jobs waiting on the LLM batch lane wait for a provider, not a person.
  jobs = jobs.filter((j) => j.status === 'suspended' && j.wait && j.wait.name !== 'llm-batch');
  if (!jobs.length) {
    fill(body, h('p', { class: 'muted', 'data-test': 'empty' }, 'Nothing is waiting for an answer.'));
    return;
  }
  fill(body, jobs.map(card));
}

/** The question's JSON, or a question that is only its text. */
function parsed(text) {
  try {
    const q = JSON.parse(text);
    return q && typeof q === 'object' && !Array.isArray(q) ? q : { prompt: String(q) };
  } catch {
    return { prompt: String(text) };
  }
}

/** One field's question: prompt, candidate buttons, free field, "no such value". */
function field(item) {
  const input = h('input', { type: 'text', class: 'answer', 'aria-label': 'answer', placeholder: 'Type the answer' });
  const none = h('input', { type: 'checkbox', 'data-test': 'none' });
  const candidates = (Array.isArray(item.candidates) ? item.candidates : []).map((c) => h('button', {
    class: 'quiet candidate', type: 'button', 'data-test': 'candidate',
    onclick: () => { input.value = String(c); none.checked = false; },
  }, String(c)));
  const el = h('div', { class: 'question', 'data-key': item.key ?? '' },
    h('p', {}, String(item.prompt ?? 'Your answer:')),
    candidates.length ? h('div', { class: 'actions' }, candidates) : null,
    input,
    h('label', { class: 'muted' }, none, ' no such value'));
  return { el, key: item.key, value: () => (none.checked ? null : input.value.trim()) };
}

function card(job) {
  const q = parsed(job.wait.question);
  const items = Array.isArray(q.questions) ? q.questions : [{ prompt: q.prompt, candidates: q.candidates }];
  const fields = items.map(field);
  const notice = h('div', { class: 'slot' });
  const send = async () => {
    const answers = {};
    for (const f of fields) answers[f.key] = f.value();
    const value = Array.isArray(q.questions) ? { answers } : { answer: fields[0].value() };
    if (Object.values(value.answers ?? value).some((v) => v === '')) {
      fill(notice, h('div', { class: 'error', role: 'alert' }, 'Answer every question, or tick "no such value".'));
      return;
    }
    try {
      await api('POST', '/v1/tokens/' + encodeURIComponent(job.wait.token), value);
      fill(notice, h('div', { class: 'notice', role: 'status', 'data-test': 'answered' }, 'Answered: the job runs again with it.'));
      button.disabled = true;
    } catch (e) {
      fill(notice, errorBox(e));
    }
  };
  const button = h('button', { 'data-action': 'send', onclick: send }, 'Send answer');
  return h('section', { class: 'review', 'data-id': job.id },
    h('h2', {}, jobLink(job.id), ' ', h('span', { class: 'muted' }, `${job.job_type} · ${job.wait.name} · answer by ${when(job.wait.until)}`)),
    Array.isArray(q.questions) && q.prompt ? h('p', {}, String(q.prompt)) : null,
    q.context ? h('pre', { class: 'context', 'data-test': 'context' }, String(q.context)) : null,
    fields.map((f) => f.el),
    h('div', { class: 'actions' }, button),
    notice);
}
