// The dashboard: routes each page to its module; polls the page that is
// live (the overview) without reloading it.
import { startSession, route } from './lib.js';
import { overview } from './overview.js';
import { jobs, job } from './jobs.js';
import { dlq, plugins, bulk } from './ops.js';
import { review } from './review.js';

const pages = { '': overview, jobs, job, dlq, plugins, bulk, review };
const nav = { '': 'overview', job: 'jobs' };

let stop = null;

async function show() {
  if (stop) stop();
  stop = null;
  const { parts, params } = route();
  const name = parts[0] || '';
  const page = pages[name];
  const view = document.getElementById('view');
  for (const a of document.querySelectorAll('nav a')) {
    a.classList.toggle('here', a.dataset.nav === (nav[name] ?? name));
  }
  if (!page) {
    view.replaceChildren(Object.assign(document.createElement('div'), {
      className: 'error', textContent: `No page "${name}".`,
    }));
    return;
  }
  view.dataset.page = nav[name] ?? name;
  stop = (await page(view, parts.slice(1), params)) || null;
}

const session = await startSession();
if (session) {
  document.getElementById('logout').hidden = session.open;
  window.addEventListener('hashchange', show);
  show();
}
