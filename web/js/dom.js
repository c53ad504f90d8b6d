// Small DOM helpers. Everything that may contain mail text goes through
// textContent / createTextNode / setAttribute — never innerHTML.

/**
 * Build an element. `attrs` keys: `class`, `text`, `dataset` (object),
 * `on<event>` (listener functions), anything else → setAttribute.
 * Children may be nodes, strings (become text nodes), arrays, null/false (skipped).
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    else if (k === 'text') el.textContent = String(v);
    else if (k === 'dataset') for (const [dk, dv] of Object.entries(v)) el.dataset[dk] = String(dv);
    else if (k.startsWith('on')) {
      if (typeof v !== 'function') throw new Error(`refusing string event handler ${k}`);
      el.addEventListener(k.slice(2), v);
    }
    else if (k === 'style') throw new Error('inline style attributes are forbidden by the CSP');
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const nf = new Intl.NumberFormat('en-US');
export const fmtNum = (n) => nf.format(Number(n) || 0);

export function plural(n, one, many = one + 's') {
  return `${fmtNum(n)} ${n === 1 ? one : many}`;
}

export function fmtBytes(n) {
  n = Number(n) || 0;
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

function parseDate(s) {
  if (!s) return null;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? null : d;
}

const pad = (n) => String(n).padStart(2, '0');

/** "2019-03-01" (UTC), or "undated". */
export function fmtDay(s) {
  const d = parseDate(s);
  if (!d) return 'undated';
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
}

/** "2019-03-01 10:00 UTC", or "unknown date". */
export function fmtDateTime(s) {
  const d = parseDate(s);
  if (!d) return 'unknown date';
  return `${fmtDay(s)} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

/** Split "Jane Smith <j@x.org>" into {name, addr}. */
export function splitAddress(s) {
  s = String(s || '').trim();
  const m = /^(.*?)\s*<([^<>]*)>\s*$/.exec(s);
  if (m) {
    let name = m[1].trim();
    if (name.length >= 2 && name.startsWith('"') && name.endsWith('"')) name = name.slice(1, -1);
    return { name: name || m[2], addr: m[2] };
  }
  return { name: s, addr: s };
}

// URLs in mail text: http(s) become links with rel=noopener noreferrer nofollow,
// everything else (javascript:, data:, file:, mailto:…) stays plain text.
const URL_RE = /\bhttps?:\/\/[^\s<>"'`{}|\\^\u0000-\u001f\u007f]+/gi;
const TRAILING = /[.,;:!?)\]}'"»]+$/;

/** Append `text` to `parent` as text nodes, with http(s) URLs as safe links. */
export function appendLinkified(parent, text) {
  text = String(text ?? '');
  let last = 0;
  URL_RE.lastIndex = 0;
  let m;
  while ((m = URL_RE.exec(text)) !== null) {
    let url = m[0];
    const trail = TRAILING.exec(url);
    // Keep a closing parenthesis that belongs to the URL (Wikipedia style).
    if (trail) {
      let cut = trail[0];
      if (cut.startsWith(')') && (url.slice(0, -cut.length).match(/\(/g) || []).length > 0) cut = cut.slice(1);
      if (cut) url = url.slice(0, -cut.length);
    }
    const start = m.index;
    const end = start + url.length;
    URL_RE.lastIndex = end;
    let safe = null;
    try {
      const u = new URL(url);
      if (u.protocol === 'http:' || u.protocol === 'https:') safe = u.href;
    } catch { /* not a URL: leave as text */ }
    if (!safe) continue;
    if (start > last) parent.appendChild(document.createTextNode(text.slice(last, start)));
    const a = document.createElement('a');
    a.setAttribute('href', safe);
    a.setAttribute('rel', 'noopener noreferrer nofollow');
    a.setAttribute('target', '_blank');
    a.setAttribute('referrerpolicy', 'no-referrer');
    a.className = 'ext';
    a.textContent = url;
    parent.appendChild(a);
    last = end;
  }
  if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  return parent;
}

/**
 * Append a snippet: `text` with `highlights` ([[start, end], ...], 0-based
 * offsets in Unicode code points, end exclusive) wrapped in <mark>.
 * Bad, overlapping or out-of-range ranges are skipped, never trusted.
 */
export function appendHighlighted(parent, text, highlights) {
  const chars = Array.from(String(text ?? ''));
  const ranges = (Array.isArray(highlights) ? highlights : [])
    .filter((r) => Array.isArray(r) && r.length >= 2 && Number.isInteger(r[0]) && Number.isInteger(r[1]))
    .map(([a, b]) => [Math.max(0, a), Math.min(chars.length, b)])
    .filter(([a, b]) => a < b)
    .sort((x, y) => x[0] - y[0]);
  let pos = 0;
  for (const [a, b] of ranges) {
    if (a < pos) continue;
    if (a > pos) parent.appendChild(document.createTextNode(chars.slice(pos, a).join('')));
    const mark = document.createElement('mark');
    mark.textContent = chars.slice(a, b).join('');
    parent.appendChild(mark);
    pos = b;
  }
  if (pos < chars.length) parent.appendChild(document.createTextNode(chars.slice(pos).join('')));
  return parent;
}

/**
 * Path of the message page for an API message object (Message-ID, or key when
 * there is none). With `search` ({ q, sort, at }) the page knows the search it
 * was opened from: `?q=&sort=&at=` (at: the hit's rank from 0), so it shows
 * the previous/next result and highlights the query's words.
 */
export function messageHref(m, search) {
  const id = m.message_id || m.key || '';
  const href = '/m/' + encodeURIComponent(id);
  if (!search || !search.q || !String(search.q).trim()) return href;
  const qs = new URLSearchParams({ q: search.q });
  if (search.sort) qs.set('sort', search.sort);
  if (Number.isInteger(search.at) && search.at >= 0) qs.set('at', String(search.at));
  return `${href}?${qs}`;
}

export function threadHref(threadId, focus) {
  let href = '/t/' + encodeURIComponent(threadId || '');
  if (focus) href += '?focus=' + encodeURIComponent(focus);
  return href;
}

export function searchHref(q, sort, offset) {
  const p = new URLSearchParams();
  p.set('q', q);
  if (sort && sort !== 'relevance') p.set('sort', sort);
  if (offset) p.set('offset', String(offset));
  return '/search?' + p.toString();
}

/** Makes `box`'s links one tab stop (`first` holds it): arrow keys, Home and End move between them. */
export function rovingFocus(box, first) {
  if (first) first.tabIndex = 0;
  box.addEventListener('keydown', (ev) => {
    const links = Array.from(box.querySelectorAll('a'));
    const i = links.indexOf(document.activeElement);
    if (i < 0) return;
    const step = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[ev.key];
    let j = null;
    if (step) j = Math.min(links.length - 1, Math.max(0, i + step));
    else if (ev.key === 'Home') j = 0;
    else if (ev.key === 'End') j = links.length - 1;
    if (j === null) return;
    ev.preventDefault();
    links[i].tabIndex = -1;
    links[j].tabIndex = 0;
    links[j].focus();
  });
}
