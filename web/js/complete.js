// Completion of list:, lang: and from: values inside the search box (lists
// and languages from /api/stats; people, by messages written, from
// /api/complete, within the viewer's lists).
import { h, clear, fmtNum } from './dom.js';
import { loadStats } from './stats.js';
import { completeFrom } from './api.js';

const FIELDS = { list: 'lists', lang: 'languages' };

/** People whose name or address has a word starting with `prefix`. */
let fromCtl = null;
async function fromOptions(prefix) {
  if (fromCtl) fromCtl.abort();
  fromCtl = new AbortController();
  const r = await completeFrom(prefix, fromCtl.signal);
  return (Array.isArray(r.values) ? r.values : []).map((x) => ({ value: String(x.addr), label: String(x.name || x.addr), count: x.count }));
}
const MAX = 8;

export function installCompletion(input, box) {
  let options = [];
  let active = -1;
  let token = null;

  const close = () => {
    box.hidden = true;
    clear(box);
    options = [];
    active = -1;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
  };

  // The field:value token that ends at the caret, if it is one we complete.
  const current = () => {
    const caret = input.selectionStart ?? input.value.length;
    if (caret !== (input.selectionEnd ?? caret)) return null;
    const before = input.value.slice(0, caret);
    const m = /(^|[\s(])(-?)(list|lang|from):("?)([^\s()"]*)$/i.exec(before);
    if (!m) return null;
    const start = caret - (m[2].length + m[3].length + 1 + m[4].length + m[5].length);
    return { field: m[3].toLowerCase(), neg: m[2], prefix: m[5], start, end: caret };
  };

  const setActive = (i) => {
    const lis = box.querySelectorAll('li');
    lis.forEach((li, k) => li.setAttribute('aria-selected', String(k === i)));
    active = i;
    if (i >= 0 && lis[i]) input.setAttribute('aria-activedescendant', lis[i].id);
    else input.removeAttribute('aria-activedescendant');
  };

  const accept = (i) => {
    const opt = options[i];
    if (!opt || !token) return;
    const v = /^[^\s()"]+$/.test(opt.value) ? opt.value : `"${opt.value.replace(/"/g, '')}"`;
    const ins = `${token.neg}${token.field}:${v} `;
    let after = input.value.slice(token.end).replace(/^[^\s()]*/, '');
    if (after.startsWith(' ')) after = after.slice(1);
    input.value = input.value.slice(0, token.start) + ins + after;
    const pos = token.start + ins.length;
    input.setSelectionRange(pos, pos);
    close();
  };

  const update = async () => {
    token = current();
    if (!token) { close(); return; }
    const p = token.prefix.toLowerCase();
    if (token.field === 'from') {
      let found;
      try { found = await fromOptions(token.prefix); } catch { return; }
      const t = current();
      if (!t || t.start !== token.start || t.prefix !== token.prefix) return; // typed on meanwhile
      options = found.slice(0, MAX);
    } else {
      let stats;
      try { stats = await loadStats(); } catch { close(); return; }
      const t = current();
      if (!t || t.start !== token.start || t.prefix !== token.prefix) return; // typed on meanwhile
      const all = Array.isArray(stats[FIELDS[token.field]]) ? stats[FIELDS[token.field]] : [];
      const starts = [];
      const contains = [];
      for (const x of all) {
        const v = String(x.value ?? '');
        const lv = v.toLowerCase();
        if (!p || lv.startsWith(p) || lv.split('.').some((part) => part.startsWith(p))) starts.push(x);
        else if (lv.includes(p)) contains.push(x);
      }
      options = [...starts, ...contains].slice(0, MAX).map((x) => ({ value: String(x.value), count: x.count }));
    }
    if (!options.length || (options.length === 1 && options[0].value.toLowerCase() === p)) { close(); return; }
    clear(box);
    options.forEach((o, i) => {
      const li = h('li', { id: `complete-${i}`, role: 'option', 'aria-selected': 'false' },
        h('span', { class: 'c-value', title: o.value }, o.label || o.value), h('span', { class: 'fv-count' }, fmtNum(o.count)));
      li.addEventListener('mousedown', (ev) => { ev.preventDefault(); accept(i); input.focus(); });
      box.appendChild(li);
    });
    box.hidden = false;
    input.setAttribute('aria-expanded', 'true');
    setActive(-1);
  };

  input.addEventListener('input', update);
  input.addEventListener('click', update);
  input.addEventListener('blur', () => setTimeout(close, 100));
  input.addEventListener('keydown', (ev) => {
    if (box.hidden) return;
    if (ev.key === 'ArrowDown') { ev.preventDefault(); setActive((active + 1) % options.length); }
    else if (ev.key === 'ArrowUp') { ev.preventDefault(); setActive(active <= 0 ? options.length - 1 : active - 1); }
    else if ((ev.key === 'Enter' && active >= 0) || (ev.key === 'Tab' && !ev.shiftKey)) { ev.preventDefault(); accept(active >= 0 ? active : 0); }
    else if (ev.key === 'Escape') { ev.preventDefault(); ev.stopPropagation(); close(); }
  });
  // Warm the cache so the first completion is instant.
  input.addEventListener('focus', () => { loadStats().catch(() => {}); }, { once: true });
}
