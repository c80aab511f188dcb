// The dashboard's helpers: the API client (with the session's CSRF token),
// building DOM nodes (text only, never HTML from data), formatting, the
// confirmation dialog, and the hash router with its query string.

let csrf = '';

/** Reads the session (CSRF token); sends the browser to the login page without one. */
export async function startSession() {
  const r = await fetch('/ui/session', { credentials: 'same-origin' });
  if (r.status === 401) {
    const body = await r.json().catch(() => ({}));
    location.href = body?.error?.code === 'session_expired' ? '/ui/login?expired=1' : '/ui/login';
    return null;
  }
  const s = await r.json();
  csrf = s.csrf;
  return s;
}

/** An API error with its stable code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the API; JSON in and out; throws ApiError on 4xx/5xx. */
export async function api(method, path, body) {
  const headers = { 'X-CSRF-Token': csrf };
  const init = { method, headers, credentials: 'same-origin' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  const data = await r.json().catch(() => ({}));
  if (r.status === 401) {
    location.href = data?.error?.code === 'session_expired' ? '/ui/login?expired=1' : '/ui/login';
  }
  if (!r.ok) {
    const e = data.error || {};
    throw new ApiError(r.status, e.code || 'http_' + r.status, e.message || r.statusText);
  }
  return data;
}

/** h('td', {class: 'num'}, 'text', node, ...): an element; strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces the contents of `el`. */
export function fill(el, ...children) {
  el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

export const num = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
// Micro-units of the price table's currency, as money (6 decimals at most).
export const money = (micros) => (Number(micros || 0) / 1e6).toLocaleString('en-US', { maximumFractionDigits: 6 });
export const when = (ms) => (ms ? new Date(Number(ms)).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : '–');
export const badge = (s) => h('span', { class: 'badge s-' + s, 'data-status': s }, s);
export const jobLink = (id) => h('a', { href: '#/job/' + encodeURIComponent(id), class: 'mono' }, id);

export function ago(ms, now) {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 90 ? s + ' s ago' : Math.round(s / 60) + ' min ago';
}

/** Pretty JSON of a JSON text (or the text itself when it is not JSON). */
export function pretty(text) {
  if (text === null || text === undefined) return '–';
  try {
    return JSON.stringify(typeof text === 'string' ? JSON.parse(text) : text, null, 2);
  } catch {
    return String(text);
  }
}

export function errorBox(e) {
  const code = e instanceof ApiError ? ` (${e.status} ${e.code})` : '';
  return h('div', { class: 'error', role: 'alert', 'data-test': 'error' }, e.message + code);
}

/** Asks before a destructive action; resolves true when confirmed. */
export function confirmAction(text) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-text').textContent = text;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
    dialog.showModal();
  });
}

/** The current route: path parts after '#/' and the query parameters. */
export function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [path, qs] = hash.split('?');
  return {
    parts: path.split('/').filter(Boolean).map(decodeURIComponent),
    params: new URLSearchParams(qs || ''),
  };
}

/** Goes to `path` with `params` (empty values left out). */
export function go(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) q.set(k, v);
  const qs = q.toString();
  location.hash = '#/' + path + (qs ? '?' + qs : '');
}

/** A whole number from a query parameter, or the fallback. */
export function intParam(params, name, fallback = 0) {
  const v = params.get(name);
  return v === null || v === '' ? fallback : Number(v);
}
