// The start page: what is in the archive (each list with its size and dates),
// the newest conversations, and queries to try made from the archive's own
// lists, people and words (each finds something; from /api/home).
import { h, clear, fmtNum, plural, fmtDay, fmtDateTime, splitAddress, searchHref, threadHref, messageHref } from './dom.js';
import { getHome } from './api.js';
import { loadStats } from './stats.js';
import { isCurrent } from './router.js';
import { term } from './query.js';
import { renderSavedList } from './saved.js';

function dateSpan(a, b) {
  const x = fmtDay(a);
  const y = fmtDay(b);
  return x === y ? x : `${x} – ${y}`;
}

function renderRecent(c) {
  const hit = c.hit || {};
  const names = (Array.isArray(c.participants) ? c.participants : []).map((p) => splitAddress(p).name || p);
  const more = (Number(c.participants_total) || names.length) - names.length;
  const size = Number(c.size) || 1;
  const href = c.thread_id ? threadHref(c.thread_id) : messageHref(hit);
  return h('li', { class: 'recent-conv' },
    h('a', { class: 'recent-subject', href }, c.subject && c.subject.trim() ? c.subject : '(no subject)'),
    h('span', { class: 'recent-meta muted' },
      h('span', { title: `${fmtDateTime(c.first_date)} – ${fmtDateTime(c.last_date)}` }, dateSpan(c.first_date, c.last_date)),
      ' · ', plural(size, 'message'),
      hit.list ? ` · ${hit.list}` : '',
      names.length ? ` · ${names.join(', ')}${more > 0 ? ` +${more}` : ''}` : ''));
}

export async function renderHome(main, _m, _p, gen) {
  document.title = 'gleaner';
  const stats = h('div', { class: 'home-stats' });
  const lists = h('ul', { class: 'home-lists' });
  const recent = h('ol', { class: 'home-recent', id: 'home-recent' });
  const examples = h('ul', { class: 'home-examples-list', id: 'home-examples' });
  const saved = h('section', { class: 'home-saved-sec', id: 'home-saved', hidden: true });
  main.replaceChildren(h('div', { class: 'home' },
    h('h1', {}, 'Search the archive'),
    stats,
    saved,
    h('section', { class: 'home-recent-sec' }, h('h2', {}, 'Recent conversations'), recent),
    h('section', { class: 'home-examples' }, h('h2', {}, 'Try'), examples),
    h('section', { class: 'home-lists-sec' }, h('h2', {}, 'Lists'), lists)));
  document.getElementById('q')?.focus({ preventScroll: true });
  let s;
  let home;
  try { [s, home] = await Promise.all([loadStats(), getHome()]); } catch (e) {
    if (!isCurrent(gen)) return;
    stats.textContent = 'Could not load the archive statistics.';
    return;
  }
  if (!isCurrent(gen)) return;
  renderSavedList(saved).catch(() => { /* the rest of the page stands without it */ });
  const n = Number(s.messages) || 0;
  const ls = Array.isArray(home.lists) ? home.lists : [];
  stats.append(
    h('strong', {}, plural(n, 'message')),
    ` in ${plural(ls.length, 'list')}`,
    s.first_date ? `, ${fmtDay(s.first_date)} to ${fmtDay(s.last_date)}` : '', '.');
  clear(recent);
  for (const c of Array.isArray(home.recent) ? home.recent : []) recent.appendChild(renderRecent(c));
  if (!recent.firstChild) recent.appendChild(h('li', { class: 'muted' }, 'No mail yet.'));
  clear(examples);
  const input = document.getElementById('q');
  const first = Array.isArray(home.examples) && home.examples[0];
  // The box suggests a query this archive answers, not a made-up one.
  if (input && first) input.placeholder = `Search mail — try ${first.query}`;
  for (const x of Array.isArray(home.examples) ? home.examples : []) {
    examples.appendChild(h('li', {},
      h('a', { href: searchHref(x.query) }, h('code', {}, x.query)),
      h('span', { class: 'muted' }, ` — ${x.what} (${plural(Number(x.total) || 0, 'message')})`)));
  }
  for (const l of ls) {
    lists.appendChild(h('li', {},
      h('a', { class: 'home-list-name', href: searchHref(term('list', l.list), 'date'), title: l.list }, String(l.list)),
      h('span', { class: 'home-list-dates muted' }, l.first_date ? dateSpan(l.first_date, l.last_date) : ''),
      h('span', { class: 'fv-count' }, fmtNum(l.count))));
  }
}
