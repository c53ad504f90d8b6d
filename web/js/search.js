// Search view: conversations (the default) or messages, facets, timeline,
// pager, "did you mean", and the empty/error/loading states.

import { h, clear, fmtNum, plural, fmtDay, fmtDateTime, splitAddress, appendHighlighted,
  messageHref, threadHref, searchHref as plainSearchHref, rovingFocus } from './dom.js';
import { search, exportHref, ApiError } from './api.js';
import { renderSaveControl } from './saved.js';
import { isCurrent } from './router.js';
import { term, addTerm, hasTerm, removeTerm, setDate, currentDate, filters } from './query.js';
import { resetSelection } from './keys.js';
import { renderHome } from './home.js';

export const PAGE = 20;
const SORTS = ['relevance', 'date', 'oldest'];
const FACET_SHOWN = 8;

let inflight = null;
// 'conversations' (one row per thread, the default) or 'messages'; links made
// on this page keep it.
let view = 'conversations';

/** A search link that keeps the current view (or `v`). */
function searchHref(q, sort, offset, v = view) {
  const href = plainSearchHref(q, sort, offset);
  return v === 'messages' ? `${href}&view=messages` : href;
}

export function readParams(params) {
  const q = params.get('q') || '';
  const sort = SORTS.includes(params.get('sort')) ? params.get('sort') : 'relevance';
  const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
  const v = params.get('view') === 'messages' ? 'messages' : 'conversations';
  return { q, sort, offset, view: v };
}

function skeleton(main) {
  // Results come before the facets in the DOM (and so in tab order); the
  // stylesheet draws the facets on the left.
  const layout = h('div', { class: 'search-layout' },
    h('section', { class: 'results-col', 'aria-labelledby': 'results-h1' },
      h('h1', { id: 'results-h1', class: 'visually-hidden' }, 'Search results'),
      h('div', { class: 'results-head' },
        h('p', { id: 'total', class: 'total', 'aria-live': 'polite' }),
        h('span', { id: 'took', class: 'took' }),
        h('nav', { id: 'view-switch', class: 'view-switch', 'aria-label': 'Show results as' }),
        h('a', { id: 'export', class: 'btn small', download: '', hidden: true, title: 'Download every matching message as one mbox file' }, 'Download mbox')),
      h('div', { id: 'timeline', class: 'timeline', hidden: true }),
      h('p', { id: 'did-you-mean', class: 'did-you-mean', hidden: true }),
      h('div', { id: 'error', class: 'error-box', role: 'alert', hidden: true }),
      h('div', { id: 'loading', class: 'loading', hidden: true }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Searching…'),
      h('div', { id: 'empty', class: 'empty-state', hidden: true }),
      h('ol', { id: 'results', class: 'results' }),
      h('nav', { id: 'pager', class: 'pager', 'aria-label': 'Pages', hidden: true }),
      // After the results: no extra tab stop on the way to the first one.
      h('div', { id: 'save-box', class: 'save-box' })),
    h('aside', { id: 'facets', class: 'facets', 'aria-label': 'Refine results' }));
  main.replaceChildren(layout);
}

export async function renderSearch(main, _m, params, gen) {
  const { q, sort, offset, view: v } = readParams(params);
  view = v;
  document.title = q ? `${q} — gleaner` : 'gleaner';
  if (!q.trim()) {
    return renderHome(main, _m, params, gen);
  }
  if (!document.getElementById('results')) skeleton(main);
  const results = document.getElementById('results');
  const loading = document.getElementById('loading');
  const err = document.getElementById('error');
  results.setAttribute('aria-busy', 'true');
  results.classList.add('stale');
  const spin = setTimeout(() => { if (isCurrent(gen)) loading.hidden = false; }, 120);

  if (inflight) inflight.abort();
  const ctl = new AbortController();
  inflight = ctl;
  let data;
  try {
    data = await search({ q, sort, offset, limit: PAGE, group: view === 'messages' ? 'message' : 'thread' }, ctl.signal);
  } catch (e) {
    clearTimeout(spin);
    if (!isCurrent(gen) || (e && e.name === 'AbortError')) return;
    loading.hidden = true;
    results.removeAttribute('aria-busy');
    results.classList.remove('stale');
    showError(err, e, q);
    clear(results);
    for (const id of ['facets', 'pager', 'empty', 'timeline', 'did-you-mean']) {
      const el = document.getElementById(id);
      if (id === 'facets') clear(el); else el.hidden = true;
    }
    document.getElementById('total').textContent = '';
    document.getElementById('took').textContent = '';
    document.getElementById('export').hidden = true;
    return;
  } finally {
    if (inflight === ctl) inflight = null;
  }
  clearTimeout(spin);
  if (!isCurrent(gen)) return;
  loading.hidden = true;
  err.hidden = true;
  clear(err);
  results.removeAttribute('aria-busy');
  results.classList.remove('stale');
  renderResults(data || {}, { q, sort, offset });
}

function showError(box, e, q) {
  clear(box);
  box.hidden = false;
  if (e instanceof ApiError && e.status === 400) {
    box.appendChild(h('p', { class: 'error-title' }, 'This query has a problem: ', h('strong', {}, e.message)));
    const chars = Array.from(q);
    const pos = Math.min(Math.max(0, e.position ?? chars.length), chars.length);
    const pre = h('pre', { class: 'caret', 'aria-label': `The query, with the problem at character ${pos + 1}` });
    pre.appendChild(document.createTextNode(chars.slice(0, pos).join('')));
    pre.appendChild(h('mark', { class: 'at' }, pos < chars.length ? chars[pos] : ' '));
    pre.appendChild(document.createTextNode(chars.slice(pos + 1).join('')));
    pre.appendChild(document.createTextNode('\n' + ' '.repeat(pos) + '^'));
    box.appendChild(pre);
    box.appendChild(h('p', { class: 'hint' }, 'Press ', h('kbd', {}, '?'), ' for the query syntax.'));
    const input = document.getElementById('q');
    if (input && e.position !== null) {
      // Put the cursor where the problem is (positions count code points).
      const utf16 = chars.slice(0, pos).join('').length;
      try { input.setSelectionRange(utf16, utf16); } catch { /* not focusable yet */ }
    }
  } else {
    box.appendChild(h('p', { class: 'error-title' }, 'The search failed: ', h('strong', {}, e && e.message ? e.message : String(e))));
    box.appendChild(h('p', { class: 'hint' }, h('a', { href: location.pathname + location.search }, 'Try again')));
  }
}

function renderResults(data, st) {
  const { q, sort, offset } = st;
  const total = Number(data.total) || 0;
  const grouped = Array.isArray(data.conversations);
  const hits = grouped ? data.conversations : (Array.isArray(data.hits) ? data.hits : []);
  // The pager counts rows: conversations or messages.
  const rows = grouped ? (Number(data.total_conversations) || 0) : total;
  document.getElementById('total').textContent = grouped
    ? `${plural(total, 'message')} in ${plural(rows, 'conversation')}`
    : plural(total, 'message');
  renderViewSwitch(document.getElementById('view-switch'), q, sort);
  renderDidYouMean(document.getElementById('did-you-mean'), data.did_you_mean, sort);
  document.getElementById('took').textContent = Number.isFinite(data.took_ms) ? `in ${data.took_ms < 10 ? data.took_ms.toFixed(1) : Math.round(data.took_ms)} ms` : '';
  const exp = document.getElementById('export');
  exp.hidden = total === 0;
  exp.setAttribute('href', exportHref(q));
  const saveBox = document.getElementById('save-box');
  if (saveBox.dataset.q !== q) { saveBox.dataset.q = q; renderSaveControl(saveBox, q); }

  renderFacets(document.getElementById('facets'), data.facets || {}, q, sort);
  renderTimeline(document.getElementById('timeline'), Array.isArray(data.timeline) ? data.timeline : [], q, sort);

  const results = clear(document.getElementById('results'));
  results.setAttribute('start', String(offset + 1));
  hits.forEach((hit, i) => results.appendChild(
    grouped ? renderConversation(hit, q, sort) : renderHit(hit, q, sort, offset + i)));
  resetSelection();

  const empty = clear(document.getElementById('empty'));
  empty.hidden = hits.length > 0;
  if (!hits.length) {
    if (total > 0) {
      empty.appendChild(h('p', {}, `No more results: this search has ${plural(total, 'message')}.`));
      empty.appendChild(h('p', {}, h('a', { href: searchHref(q, sort, 0) }, 'Back to the first page')));
    } else {
      empty.appendChild(h('p', { class: 'empty-title' }, 'No messages match ', h('q', {}, q), '.'));
      const hints = h('ul', { class: 'hints' },
        h('li', {}, 'Check the spelling, or try fewer or more general words.'),
        h('li', {}, 'Use a prefix: ', h('code', {}, 'upgrad*'), ' finds upgrade, upgrading, upgraded.'),
        h('li', {}, 'Use ', h('code', {}, 'OR'), ' for alternatives: ', h('code', {}, 'outage OR downtime'), '.'));
      const fs = filters(q);
      if (fs.length && fs.length < tokensCount(q)) {
        const li = h('li', {}, 'Drop a filter: ');
        fs.forEach((f, i) => {
          if (i) li.appendChild(document.createTextNode(' · '));
          li.appendChild(h('a', { href: searchHref(removeTerm(q, f), sort, 0) }, 'without ', h('code', {}, f)));
        });
        hints.appendChild(li);
      }
      empty.appendChild(hints);
    }
  }
  renderPager(document.getElementById('pager'), rows, offset, hits.length, q, sort);
}

/** Conversations | Messages: the same search, one row per thread or per message. */
function renderViewSwitch(nav, q, sort) {
  clear(nav);
  for (const [v, label] of [['conversations', 'Conversations'], ['messages', 'Messages']]) {
    const current = v === view;
    nav.appendChild(h('a', { id: `view-${v}`, class: ['view-opt', current && 'active'], href: searchHref(q, sort, 0, v),
      'aria-current': current ? 'true' : null }, label));
  }
}

function renderDidYouMean(p, s, sort) {
  clear(p);
  p.hidden = !(s && typeof s.query === 'string');
  if (p.hidden) return;
  p.append('Did you mean ', h('a', { id: 'did-you-mean-link', href: searchHref(s.query, sort, 0) }, s.query),
    ` (${plural(Number(s.total) || 0, 'message')})?`);
}

/** "Ann Lee, Bo Chan +3": who wrote in a conversation. */
function people(c) {
  const names = (Array.isArray(c.participants) ? c.participants : []).map((p) => splitAddress(p).name || p);
  const more = (Number(c.participants_total) || names.length) - names.length;
  return names.join(', ') + (more > 0 ? ` +${more}` : '');
}

function dateSpan(a, b) {
  const x = fmtDay(a);
  const y = fmtDay(b);
  return x === y ? x : `${x} – ${y}`;
}

function renderConversation(c, q, sort) {
  const hit = c.hit || {};
  const subject = c.subject && c.subject.trim() ? c.subject : '(no subject)';
  const size = Number(c.size) || 1;
  const matching = Number(c.matching) || 1;
  const li = h('li', { class: 'hit conv', dataset: { key: hit.key || hit.message_id || '', thread: c.thread_id || '' } });
  const meta = h('div', { class: 'hit-meta' },
    h('span', { class: 'conv-dates', title: `${fmtDateTime(c.first_date)} – ${fmtDateTime(c.last_date)}` }, dateSpan(c.first_date, c.last_date)),
    hit.list ? h('a', { class: 'hit-list', href: searchHref(addTerm(q, term('list', hit.list)), sort, 0), title: `Only ${hit.list}` }, hit.list) : null,
    h('span', { class: 'conv-people', title: (c.participants || []).join('\n') }, people(c)));
  const count = h('span', { class: 'conv-count', title: `${plural(matching, 'message')} of this conversation match${matching === 1 ? 'es' : ''}` },
    size > 1 ? `${matching} of ${size}` : '1 message');
  const link = c.thread_id ? threadHref(c.thread_id, hit.message_id || hit.key) : messageHref(hit);
  const subj = h('h3', { class: 'hit-subject' }, h('a', { class: 'hit-link', href: link }, subject), ' ', count);
  const snip = h('p', { class: 'snippet' });
  if (hit.snippet && typeof hit.snippet.text === 'string') appendHighlighted(snip, hit.snippet.text, hit.snippet.highlights);
  const from = splitAddress(hit.from);
  const actions = h('div', { class: 'hit-actions' },
    h('a', { class: 'conv-best', href: messageHref(hit), title: 'The best-matching message',
      'aria-label': `best match: ${from.name || '(unknown sender)'}, ${fmtDay(hit.date)}, in “${subject}”` },
      `best match: ${from.name || '(unknown sender)'}, ${fmtDay(hit.date)}`),
    c.thread_id && matching > 1
      ? h('a', { class: 'conv-messages', href: searchHref(addTerm(q, term('thread', c.thread_id)), sort, 0, 'messages'),
        'aria-label': `its ${matching} matching messages, of “${subject}”` },
        `its ${matching} matching messages`)
      : null);
  li.append(meta, subj);
  if (snip.firstChild) li.appendChild(snip);
  li.appendChild(actions);
  return li;
}

function tokensCount(q) { return q.trim().split(/\s+/).length; }

function renderHit(hit, q, sort, rank) {
  const from = splitAddress(hit.from);
  const subject = hit.subject && hit.subject.trim() ? hit.subject : '(no subject)';
  const li = h('li', { class: 'hit', dataset: { key: hit.key || hit.message_id || '' } });
  const meta = h('div', { class: 'hit-meta' },
    h('time', { class: 'hit-date', datetime: hit.date || null, title: fmtDateTime(hit.date) }, fmtDay(hit.date)),
    hit.list ? h('a', { class: 'hit-list', href: searchHref(addTerm(q, term('list', hit.list)), sort, 0), title: `Only ${hit.list}` }, hit.list) : null,
    h('span', { class: 'hit-from', title: hit.from || '' }, from.name || '(unknown sender)'));
  const subj = h('h3', { class: 'hit-subject' }, h('a', { class: 'hit-link', href: messageHref(hit, { q, sort, at: rank }) }, subject));
  const snip = h('p', { class: 'snippet' });
  if (hit.snippet && typeof hit.snippet.text === 'string') appendHighlighted(snip, hit.snippet.text, hit.snippet.highlights);
  const actions = h('div', { class: 'hit-actions' },
    hit.thread_id ? h('a', { class: 'hit-thread', href: threadHref(hit.thread_id, hit.message_id || hit.key) }, 'thread', h('span', { class: 'visually-hidden' }, ` of “${subject}”`)) : null);
  li.append(meta, subj);
  if (snip.firstChild) li.appendChild(snip);
  li.appendChild(actions);
  return li;
}

function renderFacets(box, facets, q, sort) {
  clear(box);
  const groups = [
    ['list', 'Lists', (v) => term('list', v), (a) => a],
    ['year', 'Years', (v) => `date:${v}`, (a) => [...a].sort((x, y) => String(y.value).localeCompare(String(x.value)))],
    ['from', 'Senders', (v) => term('from', v), (a) => a],
  ];
  for (const [key, title, mk, order] of groups) {
    const values = Array.isArray(facets[key]) ? order(facets[key].filter((f) => f && f.value !== undefined && f.value !== '')) : [];
    if (!values.length) continue;
    const ul = h('ul', { class: 'facet-list' });
    values.forEach((f, i) => {
      const t = mk(f.value);
      const active = key === 'year' ? currentDate(q) === String(f.value) : hasTerm(q, t);
      const rest = active ? removeTerm(q, t) : '';
      const href = active ? (rest ? searchHref(rest, sort, 0) : '/') : searchHref(key === 'year' ? setDate(q, f.value) : addTerm(q, t), sort, 0);
      const li = h('li', { class: i >= FACET_SHOWN ? 'more' : null, hidden: i >= FACET_SHOWN },
        h('a', { class: ['facet-value', active && 'active'], href, dataset: { term: t, facet: key },
          'aria-current': active ? 'true' : null, title: active ? `Remove ${t}` : `Add ${t}` },
        h('span', { class: 'fv-name' }, String(f.value)),
        h('span', { class: 'fv-count' }, fmtNum(f.count))));
      ul.appendChild(li);
    });
    const sec = h('section', { class: 'facet', dataset: { facet: key } }, h('h2', {}, title), ul);
    if (values.length > FACET_SHOWN) {
      const btn = h('button', { type: 'button', class: 'btn link more-btn', 'aria-expanded': 'false' }, `${values.length - FACET_SHOWN} more`);
      btn.addEventListener('click', () => {
        const open = btn.getAttribute('aria-expanded') === 'true';
        ul.querySelectorAll('li.more').forEach((li) => { li.hidden = open; });
        btn.setAttribute('aria-expanded', String(!open));
        btn.textContent = open ? `${values.length - FACET_SHOWN} more` : 'fewer';
      });
      sec.appendChild(btn);
    }
    box.appendChild(sec);
  }
}

function monthIndex(m) {
  const r = /^(\d{4})-(\d{2})$/.exec(String(m));
  if (!r) return null;
  return parseInt(r[1], 10) * 12 + parseInt(r[2], 10) - 1;
}
const monthName = (i) => `${Math.floor(i / 12)}-${String((i % 12) + 1).padStart(2, '0')}`;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function renderTimeline(box, timeline, q, sort) {
  clear(box);
  const counts = new Map();
  for (const t of timeline) {
    const i = monthIndex(t && t.month);
    if (i !== null && Number(t.count) > 0) counts.set(i, (counts.get(i) || 0) + Number(t.count));
  }
  if (!counts.size) { box.hidden = true; return; }
  box.hidden = false;
  const keys = [...counts.keys()];
  // Whole years, so that bars line up under their year labels.
  const first = Math.floor(Math.min(...keys) / 12) * 12;
  const last = Math.floor(Math.max(...keys) / 12) * 12 + 11;
  const max = Math.max(...counts.values());
  const active = currentDate(q);
  const caption = h('span', { class: 'tl-caption', 'aria-live': 'polite' }, 'Click a month to narrow the search');
  const head = h('div', { class: 'tl-head' }, h('h2', {}, 'Hits per month'), caption);
  // One tab stop for the whole chart; arrow keys move between its links.
  const chart = h('div', { class: 'tl-chart', role: 'group', 'aria-label': 'Hits per month (arrow keys move between months)' });
  for (let y = first; y <= last; y += 12) {
    const year = Math.floor(y / 12);
    const bars = h('div', { class: 'tl-bars' });
    let yearTotal = 0;
    for (let i = y; i < y + 12; i++) {
      const n = counts.get(i) || 0;
      yearTotal += n;
      const m = monthName(i);
      if (!n) { bars.appendChild(h('span', { class: 'gap', 'aria-hidden': 'true' })); continue; }
      const label = `${MONTHS[i % 12]} ${year}: ${plural(n, 'message')}`;
      const a = h('a', { class: ['bar', active === m && 'active'], tabindex: '-1', href: searchHref(setDate(q, m), sort, 0),
        dataset: { month: m, count: n }, title: label, 'aria-label': label });
      // CSSOM property, not a style attribute: allowed by the CSP.
      a.style.setProperty('--h', `${Math.max(4, Math.round((n / max) * 100))}%`);
      const show = () => { caption.textContent = label; };
      a.addEventListener('mouseenter', show);
      a.addEventListener('focus', show);
      bars.appendChild(a);
    }
    const yearTerm = `date:${year}`;
    const yl = h('a', { class: ['tl-year-label', active === String(year) && 'active'], tabindex: '-1', href: searchHref(setDate(q, String(year)), sort, 0),
      title: `${year}: ${plural(yearTotal, 'message')}`, dataset: { term: yearTerm } },
      h('span', { class: 'y-full' }, String(year)), h('span', { class: 'y-short', 'aria-hidden': 'true' }, `’${String(year).slice(-2)}`));
    chart.appendChild(h('div', { class: ['tl-year', !yearTotal && 'empty'] }, bars, yl));
  }
  rovingFocus(chart, chart.querySelector('a.active') || chart.querySelector('a.bar'));
  box.append(head, chart);
}

function renderPager(nav, total, offset, shown, q, sort) {
  clear(nav);
  if (total <= PAGE && offset === 0) { nav.hidden = true; return; }
  nav.hidden = false;
  const prev = Math.max(0, offset - PAGE);
  const next = offset + PAGE;
  nav.append(
    offset > 0 ? h('a', { class: 'btn', rel: 'prev', href: searchHref(q, sort, prev), id: 'prev' }, '← Previous') : h('span', { class: 'btn disabled', 'aria-disabled': 'true' }, '← Previous'),
    h('span', { class: 'pager-pos' }, shown ? `${fmtNum(offset + 1)}–${fmtNum(offset + shown)} of ${fmtNum(total)}` : `of ${fmtNum(total)}`),
    next < total ? h('a', { class: 'btn', rel: 'next', href: searchHref(q, sort, next), id: 'next' }, 'Next →') : h('span', { class: 'btn disabled', 'aria-disabled': 'true' }, 'Next →'));
}
