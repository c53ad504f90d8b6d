// The start page: what is in the archive, and queries to try.
import { h, fmtNum, plural, fmtDay, searchHref } from './dom.js';
import { loadStats } from './stats.js';
import { isCurrent } from './router.js';
import { term } from './query.js';

const EXAMPLES = [
  ['"root cause" after:2019', 'a phrase, since 2019'],
  ['from:smith subject:outage', 'by sender and subject'],
  ['disk OR storage -backup', 'alternatives, minus a word'],
  ['has:attachment larger:100k', 'big attachments'],
  ['upgrad* date:2018..2019-06', 'a prefix in a date range'],
  ['older:6y list:ops', 'old mail of one list'],
];

export async function renderHome(main, _m, _p, gen) {
  document.title = 'gleaner';
  const stats = h('div', { class: 'home-stats' });
  const lists = h('ul', { class: 'home-lists' });
  main.replaceChildren(h('div', { class: 'home' },
    h('h1', {}, 'Search the archive'),
    stats,
    h('section', { class: 'home-examples' },
      h('h2', {}, 'Try'),
      h('ul', {}, EXAMPLES.map(([q, what]) => h('li', {},
        h('a', { href: searchHref(q) }, h('code', {}, q)), h('span', { class: 'muted' }, ` — ${what}`))))),
    h('section', { class: 'home-lists-sec' }, h('h2', {}, 'Lists'), lists)));
  document.getElementById('q')?.focus({ preventScroll: true });
  let s;
  try { s = await loadStats(); } catch (e) {
    if (!isCurrent(gen)) return;
    stats.textContent = 'Could not load the archive statistics.';
    return;
  }
  if (!isCurrent(gen)) return;
  const n = Number(s.messages) || 0;
  const ls = Array.isArray(s.lists) ? s.lists : [];
  stats.append(
    h('strong', {}, plural(n, 'message')),
    ` in ${plural(ls.length, 'list')}`,
    s.first_date ? `, ${fmtDay(s.first_date)} to ${fmtDay(s.last_date)}` : '', '.');
  for (const l of ls) {
    lists.appendChild(h('li', {}, h('a', { href: searchHref(term('list', l.value), 'date') }, String(l.value)),
      h('span', { class: 'fv-count' }, fmtNum(l.count))));
  }
}
