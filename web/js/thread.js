// Thread view (/t/<id>): the reply tree, each message with its text.
//
// Long threads (more than FOLD_AT messages) start folded: each message is one
// line (author, date, first words) except the first, the one the page was
// opened on and, on a return visit, those that arrived since (the messages
// seen are kept per thread in localStorage). "Show all" unfolds everything. Replies deeper
// than MAX_INDENT stop indenting under a visible "continued" marker and name
// the author they answer. A list footer repeated by every message is shown
// once and folded in the others.

import { h, plural, fmtDay, fmtDateTime, splitAddress, messageHref, searchHref } from './dom.js';
import { getThreadFor, getMessageWith, rawHref, ApiError } from './api.js';
import { isCurrent } from './router.js';
import { renderBodyParts, MAX_INDENT } from './message.js';
import { resetSelection } from './keys.js';

const EAGER = 40;        // threads up to this size load every body at once
const CONCURRENCY = 4;   // parallel /api/messages requests
const FLAT_DEPTH = MAX_INDENT; // deeper replies stop indenting
export const FOLD_AT = 12; // longer threads start folded
const SEEN_KEY = 'gleaner.seen:'; // + thread id → JSON array of the message keys shown

function seenSet(threadId) {
  try { return new Set(JSON.parse(localStorage.getItem(SEEN_KEY + threadId) || '[]')); } catch { return new Set(); }
}

function saveSeen(threadId, keys) {
  try { localStorage.setItem(SEEN_KEY + threadId, JSON.stringify(keys.slice(0, 5000))); } catch { /* storage full or off */ }
}

function normSubject(s) {
  return String(s || '').replace(/^\s*((re|fwd?|aw|sv|wg)\s*(\[\d+\])?\s*:\s*|\[[^\]]*\]\s*)*/i, '').trim().toLowerCase();
}

export async function renderThread(main, match, params, gen) {
  let id;
  try { id = decodeURIComponent(match[1]); } catch { id = match[1]; }
  const focus = params.get('focus');
  // The search the thread was opened from: its words are marked in every
  // body, and in a long thread the messages it matches stay open.
  const q = (params.get('q') || '').trim();
  main.replaceChildren(h('div', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading thread…'));
  let t;
  try {
    t = await getThreadFor(id, q);
  } catch (e) {
    if (!isCurrent(gen)) return;
    main.replaceChildren(h('div', { id: 'error', class: 'error-box', role: 'alert' },
      h('p', { class: 'error-title' }, e instanceof ApiError && e.status === 404 ? 'No such thread (or you may not see it): ' : 'Could not load the thread: ', h('code', {}, id)),
      e instanceof ApiError && e.status !== 404 ? h('p', {}, e.message) : null));
    return;
  }
  if (!isCurrent(gen)) return;

  const roots = Array.isArray(t.messages) ? t.messages : [];
  const flat = [];
  const walk = (nodes, depth) => { for (const n of nodes) { if (!n) continue; flat.push([n, depth]); walk(Array.isArray(n.children) ? n.children : [], depth + 1); } };
  walk(roots, 0);
  const subject = t.subject && String(t.subject).trim() ? String(t.subject) : (flat[0] && flat[0][0].subject) || '(no subject)';
  document.title = `${subject} — gleaner`;
  const dates = flat.map(([n]) => n.date).filter(Boolean).sort();
  const lists = [...new Set(flat.map(([n]) => n.list).filter(Boolean))];
  const authors = new Set(flat.map(([n]) => splitAddress(n.from).addr.toLowerCase()));
  const threadSubject = normSubject(subject);

  const threadId = String(t.thread_id || id);
  const long = flat.length > FOLD_AT;
  const seen = seenSet(threadId);
  const returning = long && flat.some(([n]) => seen.has(n.key));
  const ctx = { gen, q, footers: new Map() };
  const pending = [];
  let counter = 0;
  const build = (nodes, depth, parentFrom) => {
    const ol = h('ol', { class: ['tree', depth >= FLAT_DEPTH && 'flat'] });
    if (depth === FLAT_DEPTH) {
      ol.appendChild(h('li', { class: 'continued' },
        `↳ The conversation continues deeper than ${FLAT_DEPTH} levels; these replies are not indented further.`));
    }
    for (const n of nodes) {
      if (!n) continue;
      const from = splitAddress(n.from);
      const idx = counter++;
      const mid = n.message_id || n.key || '';
      const bodyBox = h('div', { class: 'tmsg-text' });
      if (n.snippet) bodyBox.appendChild(h('p', { class: 'tmsg-snippet' }, String(n.snippet)));
      const showSubject = n.subject && normSubject(n.subject) !== threadSubject;
      const isFocus = !!focus && (focus === n.message_id || focus === n.key);
      // Folded unless it is the first message, the one asked for, or (on a
      // return visit) new since then.
      const fresh = returning && !seen.has(n.key);
      const matched = n.matched === true;
      const folded = long && idx !== 0 && !isFocus && !fresh && !matched;
      const toggle = long ? h('button', { type: 'button', class: 'btn small tmsg-toggle', 'aria-expanded': String(!folded) }, folded ? 'Show' : 'Fold') : null;
      const art = h('article', {
        class: ['tmsg', isFocus && 'focused', folded && 'folded', fresh && 'fresh'],
        id: `tm-${idx}`, dataset: { key: n.key || mid, depth },
        'aria-label': `${from.name}, ${fmtDay(n.date)}`, tabindex: '-1',
      },
      h('header', { class: 'tmsg-head' },
        h('span', { class: 'tmsg-from', title: n.from || '' }, from.name || '(unknown sender)'),
        fresh ? h('span', { class: 'badge fresh' }, 'new') : null,
        matched && long ? h('span', { class: 'badge matched', title: `Matches “${q}”` }, 'match') : null,
        depth > FLAT_DEPTH && parentFrom ? h('span', { class: 'tmsg-irt' }, `↳ ${depth}: reply to ${parentFrom}`) : null,
        h('time', { class: 'tmsg-date', datetime: n.date || null, title: fmtDateTime(n.date) }, fmtDateTime(n.date)),
        n.list && lists.length > 1 ? h('span', { class: 'tmsg-list' }, String(n.list)) : null,
        long ? h('span', { class: 'tmsg-first' }, n.snippet ? String(n.snippet) : '') : null,
        h('span', { class: 'tmsg-links' },
          toggle, toggle ? ' ' : null,
          h('a', { class: 'hit-link', href: messageHref(n), title: 'Open this message alone (permalink)' }, 'message'),
          ' · ',
          h('a', { href: rawHref(mid), download: '', rel: 'nofollow' }, 'raw'))),
      showSubject ? h('p', { class: 'tmsg-subject' }, String(n.subject)) : null,
      bodyBox);
      const item = [mid, bodyBox, art, idx];
      pending.push(item);
      if (toggle) {
        toggle.addEventListener('click', (e) => { e.stopPropagation(); setFolded(item, !art.classList.contains('folded'), ctx); });
        art.addEventListener('click', (e) => {
          if (art.classList.contains('folded') && !(e.target instanceof Element && e.target.closest('a, button'))) setFolded(item, false, ctx);
        });
      }
      const li = h('li', { class: 'tnode' }, art);
      const kids = Array.isArray(n.children) ? n.children.filter(Boolean) : [];
      if (kids.length) li.appendChild(build(kids, depth + 1, from.name || from.addr));
      ol.appendChild(li);
    }
    return ol;
  };

  const tree = build(roots, 0, '');
  const freshCount = returning ? flat.filter(([n]) => !seen.has(n.key)).length : 0;
  const matchCount = flat.filter(([n]) => n.matched === true).length;
  const tools = long ? h('div', { class: 'thread-tools', id: 'thread-tools' },
    h('span', { class: 'muted', id: 'thread-fold-note' }, `Long thread: messages are folded to one line${[
      matchCount ? `${plural(matchCount, 'message')} matching “${q}” ${matchCount === 1 ? 'is' : 'are'} open` : '',
      freshCount ? `${plural(freshCount, 'message')} new since your last visit ${freshCount === 1 ? 'is' : 'are'} open` : '',
    ].filter(Boolean).map((s) => `; ${s}`).join('')}.`),
    h('button', { type: 'button', class: 'btn small', id: 'thread-show-all' }, 'Show all'),
    h('button', { type: 'button', class: 'btn small', id: 'thread-fold-all' }, 'Fold all')) : null;
  if (tools) {
    tools.querySelector('#thread-show-all').addEventListener('click', () => { for (const p of pending) setFolded(p, false, ctx); });
    tools.querySelector('#thread-fold-all').addEventListener('click', () => { for (const p of pending) setFolded(p, true, ctx); });
  }
  const span = dates.length ? (fmtDay(dates[0]) === fmtDay(dates[dates.length - 1]) ? fmtDay(dates[0]) : `${fmtDay(dates[0])} – ${fmtDay(dates[dates.length - 1])}`) : '';
  main.replaceChildren(h('div', { id: 'thread', class: 'thread', dataset: { threadId: t.thread_id || id } },
    h('header', { class: 'thread-head' },
      h('h1', {}, subject),
      h('p', { class: 'muted' },
        [plural(flat.length, 'message'), plural(authors.size, 'participant'), span, lists.join(', ')].filter(Boolean).join(' · '), ' · ',
        h('a', { href: searchHref(`thread:"${String(t.thread_id || id).replace(/"/g, '')}"`, 'oldest') }, 'as search results'))),
    reviewNotes(t.reviews),
    tools,
    tree));
  resetSelection();
  saveSeen(threadId, flat.map(([n]) => n.key).filter(Boolean));

  const focused = main.querySelector('.tmsg.focused');
  const toFocus = () => { focused.scrollIntoView({ block: 'start' }); };
  if (focused) { toFocus(); focused.focus({ preventScroll: true }); }
  const y = window.scrollY;
  loadBodies(pending.filter((p) => !p[2].classList.contains('folded')), ctx).then(() => {
    // Bodies above the focused message changed the layout: scroll to it again
    // unless the reader has moved meanwhile.
    if (focused && isCurrent(gen) && Math.abs(window.scrollY - y) < 2) toFocus();
  });
}

const DECIDED = { promote: 'Promoted', keep: 'Kept', dismiss: 'Dismissed' };

/** The review queues' decisions on this conversation, notes first-class (reviewers only). */
function reviewNotes(reviews) {
  if (!Array.isArray(reviews) || !reviews.length) return null;
  return h('section', { id: 'thread-reviews', class: 'thread-reviews', 'aria-label': 'Review decisions' },
    h('h2', { class: 'small' }, 'Reviewed'),
    h('ul', {}, ...reviews.map((r) => h('li', { class: 'review-note' },
      h('strong', {}, `${DECIDED[r.decision] || r.decision} in “${r.policy}”`),
      ` by ${r.by}, `, h('time', { datetime: r.at || null }, fmtDay(r.at)),
      r.note ? h('blockquote', { class: 'note-text' }, String(r.note)) : h('span', { class: 'muted' }, ' (no note)')))));
}

/** Fold or unfold one message; unfolding loads its text. */
function setFolded(item, folded, ctx) {
  const [, , art] = item;
  art.classList.toggle('folded', folded);
  const btn = art.querySelector('.tmsg-toggle');
  if (btn) { btn.textContent = folded ? 'Show' : 'Fold'; btn.setAttribute('aria-expanded', String(!folded)); }
  if (!folded) loadOne(item, ctx);
}

async function loadOne([mid, box, , index], ctx) {
  const { gen } = ctx;
  if (box.dataset.loaded) return;
  box.dataset.loaded = '1';
  try {
    const msg = await getMessageWith(mid, ctx.q ? { outline: 0, rank: 0, q: ctx.q } : { outline: 0 });
    if (!isCurrent(gen)) return;
    box.replaceChildren();
    renderBodyParts(box, msg, { footers: ctx.footers, index });
  } catch (e) {
    if (!isCurrent(gen)) return;
    box.appendChild(h('p', { class: 'muted small' }, `Could not load the text (${e.message}).`));
  }
}

function loadBodies(pending, ctx) {
  const { gen } = ctx;
  if (pending.length <= EAGER || !('IntersectionObserver' in window)) {
    let i = 0;
    const worker = async () => { while (i < pending.length && isCurrent(gen)) await loadOne(pending[i++], ctx); };
    return Promise.all(Array.from({ length: CONCURRENCY }, worker));
  }
  // Big threads: load each text when it comes near the viewport.
  const byEl = new Map(pending.map((p) => [p[2], p]));
  const io = new IntersectionObserver((entries) => {
    if (!isCurrent(gen)) { io.disconnect(); return; }
    for (const en of entries) {
      if (!en.isIntersecting) continue;
      io.unobserve(en.target);
      if (!en.target.classList.contains('folded')) loadOne(byEl.get(en.target), ctx);
    }
  }, { rootMargin: '1200px 0px' });
  for (const p of pending) io.observe(p[2]);
  return Promise.resolve();
}
