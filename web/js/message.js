// Message view (/m/<id>) and the body renderer shared with the thread view.
//
// The page URL may carry the search it was opened from: /m/<id>?q=&sort=&at=
// (at: the message's rank in those results, from 0). The API then returns the
// message's neighbours in the results and the query's words as highlight
// ranges (UTF-16 offsets, computed with the index's own analysis); they are
// drawn as <mark> elements around text nodes, never as HTML.

import { h, fmtDay, fmtDateTime, fmtBytes, appendLinkified, messageHref, threadHref, searchHref, splitAddress } from './dom.js';
import { getMessageWith, rawHref, ApiError } from './api.js';
import { isCurrent, navigate } from './router.js';
import { citedInLine, citeControls, roleAtLeast } from './docs.js';
import { setPageKeys } from './keys.js';
import { PAGE } from './search.js';

const lines = (s) => (s ? String(s).replace(/\n+$/, '').split('\n').length : 0);

/** Outline rows indent up to this depth; deeper ones carry a "continued" marker. */
export const MAX_INDENT = 6;

/**
 * Wrap the UTF-16 ranges `ranges` of el's text (its text nodes in order, as
 * appendLinkified left them) in <mark> elements. Returns how many were marked.
 */
export function markRanges(el, ranges) {
  const rs = (Array.isArray(ranges) ? ranges : [])
    .filter((r) => Array.isArray(r) && Number.isInteger(r[0]) && Number.isInteger(r[1]) && r[0] < r[1]);
  if (!rs.length) return 0;
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  const nodes = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) nodes.push(n);
  let offset = 0;
  let count = 0;
  let i = 0;
  for (const node of nodes) {
    const start = offset;
    const end = start + node.data.length;
    offset = end;
    let cur = node;
    let curStart = start;
    while (i < rs.length && rs[i][0] < end) {
      const a = Math.max(rs[i][0], curStart);
      const b = Math.min(rs[i][1], end);
      if (b > a) {
        const mid = cur.splitText(a - curStart);
        const rest = mid.splitText(b - a);
        const mark = h('mark', { class: 'hl' });
        mid.parentNode.replaceChild(mark, mid);
        mark.appendChild(mid);
        count++;
        cur = rest;
        curStart = b;
      }
      if (rs[i][1] <= end) i++;
      else break;
    }
  }
  return count;
}

/** Normalised text of a footer block: what differs per message (links, numbers) left out. */
const footerKey = (block) => block.replace(/^[-_=\s]*$/gm, '').replace(/https?:\/\/\S+/g, 'URL').replace(/<[^<>\s]+@[^<>\s]+>/g, 'ID').replace(/\d+/g, '0').replace(/\s+/g, ' ').trim().toLowerCase();

/** Split a footer into blocks (signature, list footer) at blank lines and separator lines. */
function footerBlocks(text) {
  return String(text).replace(/\s+$/, '').split(/\n\s*\n|\n(?=_{5,}|-- ?\n)/).filter((b) => b.trim());
}

/** A footer block shown elsewhere in the thread, folded to one line. */
function foldedFooter(block) {
  return h('details', { class: 'footer-folded' },
    h('summary', {}, 'Repeated list footer'),
    appendLinkified(h('pre', { class: 'msg-footer' }), block));
}

/**
 * Append the text parts of a message: body, quoted text (collapsed), footer
 * (de-emphasised). In a thread, `opts.footers` (a Map shared by its messages)
 * and `opts.index` (the message's place in reading order) fold footer blocks
 * shown by an earlier message into one line.
 */
export function renderBodyParts(container, msg, opts = {}) {
  const hl = msg.highlights && typeof msg.highlights === 'object' ? msg.highlights : {};
  if (msg.html_only) {
    container.appendChild(h('p', { class: 'notice html-only' },
      'This message had only an HTML part. It is shown as plain text; nothing in it is loaded or run.'));
  }
  const body = String(msg.body ?? '');
  const pre = h('pre', { class: 'msg-body' });
  if (body.trim()) { appendLinkified(pre, body.replace(/\s+$/, '')); markRanges(pre, hl.body); }
  else pre.appendChild(h('span', { class: 'muted' }, msg.quoted ? '(only quoted text)' : '(no text)'));
  container.appendChild(pre);
  if (msg.quoted && String(msg.quoted).trim()) {
    const n = lines(msg.quoted);
    const qpre = appendLinkified(h('pre', { class: 'quoted-text' }), String(msg.quoted).replace(/\s+$/, ''));
    const found = markRanges(qpre, hl.quoted);
    const label = () => `Show quoted text (${n} ${n === 1 ? 'line' : 'lines'}${found ? `, ${found} ${found === 1 ? 'match' : 'matches'}` : ''})`;
    const det = h('details', { class: 'quoted' }, h('summary', {}, label()), qpre);
    // The search's words are only in the quote: show it.
    if (found && !pre.querySelector('mark')) { det.open = true; det.firstChild.textContent = 'Hide quoted text'; }
    det.addEventListener('toggle', () => {
      det.querySelector('summary').textContent = det.open ? 'Hide quoted text' : label();
    });
    container.appendChild(det);
  }
  if (msg.footer && String(msg.footer).trim()) {
    const reg = opts.footers;
    if (!reg) {
      const fpre = appendLinkified(h('pre', { class: 'msg-footer', 'aria-label': 'Signature and list footer' }), String(msg.footer).replace(/\s+$/, ''));
      markRanges(fpre, hl.footer);
      container.appendChild(fpre);
    } else {
      // In a thread: each footer block is shown in full by the first message
      // (in reading order) that has it, folded in the others. Bodies load in
      // any order, so a block shown by a later message is folded again when
      // an earlier one arrives.
      const index = Number.isInteger(opts.index) ? opts.index : 0;
      for (const block of footerBlocks(msg.footer)) {
        const key = footerKey(block);
        const full = appendLinkified(h('pre', { class: 'msg-footer', 'aria-label': 'Signature and list footer' }), block);
        const owner = key.length > 20 ? reg.get(key) : null;
        if (owner && owner.index <= index) { container.appendChild(foldedFooter(block)); continue; }
        container.appendChild(full);
        if (key.length <= 20) continue;
        if (owner) owner.el.replaceWith(foldedFooter(owner.block));
        reg.set(key, { index, el: full, block });
      }
    }
  }
  return container;
}

/** The search this page was opened from, as carried by its URL. */
function searchState(params) {
  const q = params.get('q') || '';
  if (!q.trim()) return null;
  const at = Number.parseInt(params.get('at') || '', 10);
  return { q, sort: params.get('sort') || '', at: Number.isInteger(at) && at >= 0 ? at : null };
}

/** The page of message `m`, keeping the search `st` (and with `at`, its rank in it). */
const messageHrefIn = (m, st, at) => messageHref(m, st ? { q: st.q, sort: st.sort, at } : null);

const who = (from) => { const a = splitAddress(from); return a.name || a.addr || '(unknown sender)'; };

/** "← label" / "label →" links to a neighbour (or a disabled placeholder). */
function stepLink(id, label, target, href, rel) {
  if (!target) return h('span', { class: 'step disabled', id, 'aria-disabled': 'true' }, label);
  return h('a', { class: 'step', id, href, rel, title: `${who(target.from)}: ${target.subject || '(no subject)'}` }, label);
}

/** Previous/next in the results and in the thread. */
function contextNav(msg, st) {
  const bars = [];
  const r = msg.results;
  if (st && r) {
    const page = Math.floor(r.rank / PAGE) * PAGE;
    bars.push(h('div', { class: 'ctx-bar', id: 'results-nav' },
      stepLink('result-prev', '← Previous result', r.prev, messageHrefIn(r.prev || {}, st, r.rank - 1), 'prev'),
      h('span', { class: 'ctx-pos' }, `Result ${r.rank + 1} of ${r.total} for `,
        h('a', { id: 'back-to-results', href: searchHref(st.q, st.sort || undefined, page || undefined) }, `“${st.q}”`)),
      stepLink('result-next', 'Next result →', r.next, messageHrefIn(r.next || {}, st, r.rank + 1), 'next')));
  } else if (st && msg.query_error) {
    bars.push(h('p', { class: 'ctx-bar muted small' }, `The search “${st.q}” could not be used here: ${msg.query_error}`));
  }
  const t = msg.thread;
  if (t && t.len > 1) {
    const keep = st ? { q: st.q, sort: st.sort } : null;
    bars.push(h('div', { class: 'ctx-bar', id: 'thread-nav' },
      stepLink('thread-prev', '← Previous in thread', t.prev, messageHrefIn(t.prev || {}, keep), null),
      h('span', { class: 'ctx-pos', id: 'thread-pos' }, `Message ${t.position + 1} of ${t.len} in thread`),
      stepLink('thread-next', 'Next in thread →', t.next, messageHrefIn(t.next || {}, keep), null)));
  }
  return bars.length ? h('nav', { class: 'msg-context', id: 'msg-context', 'aria-label': 'Results and thread' }, ...bars) : null;
}

/** The compact outline of the message's thread, the current message marked. */
function outline(msg, st) {
  const t = msg.thread;
  if (!t || !Array.isArray(t.outline) || t.len < 2) return null;
  const keep = st ? { q: st.q, sort: st.sort } : null;
  const ol = h('ol', { class: 'outline' });
  t.outline.forEach((e, i) => {
    const depth = Number.isInteger(e.depth) ? e.depth : 0;
    const deep = depth > MAX_INDENT;
    const row = [
      deep ? h('span', { class: 'ol-deep', title: `Reply depth ${depth}; indentation stops at ${MAX_INDENT}` }, `↳${depth}`) : null,
      h('span', { class: 'ol-from' }, who(e.from)),
      h('time', { class: 'ol-date', datetime: e.date || null }, fmtDay(e.date)),
      h('span', { class: 'ol-line' }, e.first_line ? String(e.first_line) : '…'),
    ];
    const n = (t.outline_from || 0) + i + 1;
    ol.appendChild(h('li', {
      class: ['ol-row', e.current && 'current', deep && 'deep'],
      dataset: { depth: String(Math.min(depth, MAX_INDENT)), n: String(n) },
      'aria-current': e.current ? 'page' : null,
    }, e.current ? h('span', { class: 'ol-link' }, ...row) : h('a', { class: 'ol-link', href: messageHrefIn(e, keep) }, ...row)));
  });
  const more = t.len > t.outline.length ? h('p', { class: 'muted small' }, `Showing ${t.outline.length} of ${t.len} messages. `,
    h('a', { href: threadHref(msg.thread_id, msg.message_id || msg.key) }, 'Whole thread')) : null;
  const det = h('details', { class: 'thread-outline', id: 'thread-outline' },
    h('summary', {}, `Thread outline · ${t.position + 1} of ${t.len}`), ol, more);
  // Open beside the message on wide screens; a closed line above it on narrow ones.
  det.open = window.matchMedia('(min-width: 1100px)').matches;
  return det;
}

function addrList(v) {
  const a = Array.isArray(v) ? v : (v ? [v] : []);
  return a.map(String).join(', ');
}

/** Addresses past this many are folded behind "and N more". */
const ADDR_SHOWN = 4;

/** A long To/Cc list: the first few, the rest behind a disclosure. */
function addrListFolded(v) {
  const a = (Array.isArray(v) ? v : (v ? [v] : [])).map(String);
  if (a.length <= ADDR_SHOWN + 1) return addrList(a);
  return h('details', { class: 'addr-more' },
    h('summary', {}, `${a.slice(0, ADDR_SHOWN).join(', ')} and ${a.length - ADDR_SHOWN} more`),
    h('span', {}, a.slice(ADDR_SHOWN).join(', ')));
}

function header(dl, name, value, opts = {}) {
  if (value === undefined || value === null || value === '' || (Array.isArray(value) && !value.length)) return;
  const dd = h('dd', { class: opts.cls || null });
  if (value instanceof Node) dd.appendChild(value);
  else dd.textContent = String(value);
  dl.append(h('dt', {}, name), dd);
}

/** The text selected inside the message's own text (body, quoted text, footer), or ''. */
function selectedPassage(art) {
  const sel = window.getSelection();
  if (!sel || sel.isCollapsed || !sel.rangeCount) return '';
  const inText = (n) => {
    const el = n instanceof Element ? n : n && n.parentElement;
    return !!(el && art.contains(el) && el.closest('.msg-body, .quoted-text, .msg-footer'));
  };
  if (!inText(sel.anchorNode) || !inText(sel.focusNode)) return '';
  return sel.toString().trim();
}

export async function renderMessage(main, match, params, gen) {
  let id;
  try { id = decodeURIComponent(match[1]); } catch { id = match[1]; }
  main.replaceChildren(h('div', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading message…'));
  const st = searchState(params);
  let msg;
  try {
    msg = await getMessageWith(id, st ? { q: st.q, sort: st.sort, at: st.at } : {});
  } catch (e) {
    if (!isCurrent(gen)) return;
    main.replaceChildren(h('div', { id: 'error', class: 'error-box', role: 'alert' },
      h('p', { class: 'error-title' }, e instanceof ApiError && e.status === 404 ? 'No such message (or you may not see it): ' : 'Could not load the message: ',
        h('code', {}, id)),
      e instanceof ApiError && e.status !== 404 ? h('p', {}, e.message) : null,
      h('p', {}, h('a', { href: searchHref(`id:"${id.replace(/"/g, '')}"`) }, 'Search for this Message-ID'))));
    return;
  }
  if (!isCurrent(gen)) return;
  const subject = msg.subject && String(msg.subject).trim() ? String(msg.subject) : '(no subject)';
  document.title = `${subject} — gleaner`;
  const msgId = msg.message_id || msg.key || id;
  const permalink = new URL(messageHref(msg), location.origin).href;

  const dl = h('dl', { class: 'headers' });
  header(dl, 'From', addrList(msg.from), { cls: 'h-from' });
  // A list rewrote From (DMARC): the header as written, beside the author.
  const sentAs = Array.isArray(msg.from_header) ? msg.from_header : [];
  if (sentAs.length && sentAs.join('\n') !== (msg.from || []).join('\n')) header(dl, 'Sent as', addrList(sentAs), { cls: 'h-sent-as' });
  header(dl, 'To', addrListFolded(msg.to));
  header(dl, 'Cc', addrListFolded(msg.cc));
  header(dl, 'Date', h('time', { datetime: msg.date || null }, fmtDateTime(msg.date)));
  if (msg.list) header(dl, 'List', h('a', { href: searchHref(`list:${msg.list}`, 'date') }, String(msg.list)));
  if (msg.archived) header(dl, 'Archived', h('span', { class: 'badge archived', id: 'archived-in' }, `in volume ${msg.archived}`));
  if (Array.isArray(msg.held_by) && msg.held_by.length) header(dl, 'Legal hold', h('span', { class: 'badge held', id: 'held-by' }, msg.held_by.join(', ')));
  if (msg.parent) {
    const p = msg.parent;
    header(dl, 'In reply to', h('a', { id: 'in-reply-to', href: messageHrefIn(p, st ? { q: st.q, sort: st.sort } : null), title: p.message_id || p.key || '' },
      h('span', { class: 'irt-from' }, who(p.from)), ': ', h('span', { class: 'irt-subject' }, p.subject ? String(p.subject) : '(no subject)'),
      h('span', { class: 'muted' }, `, ${fmtDay(p.date)}`)));
  } else if (msg.in_reply_to) {
    header(dl, 'In reply to', h('span', { id: 'in-reply-to', class: 'muted' }, 'a message that is not in the archive (or that you may not see)'));
  }

  const copyBtn = h('button', { type: 'button', class: 'btn small', id: 'copy-permalink' }, 'Copy permalink');
  copyBtn.addEventListener('click', async () => {
    try { await navigator.clipboard.writeText(permalink); copyBtn.textContent = 'Copied'; } catch { copyBtn.textContent = 'Copy failed'; }
    setTimeout(() => { copyBtn.textContent = 'Copy permalink'; }, 1500);
  });
  // "Cited in" documents; reviewers and up cite the selected passage (or the start).
  const citedIn = citedInLine(msg.cited_in);
  const cite = roleAtLeast('reviewer') && msg.message_id
    ? citeControls(msg.message_id, () => selectedPassage(art), citedIn, msg.cited_in)
    : null;
  const actions = h('div', { class: 'msg-actions' },
    msg.thread_id ? h('a', { class: 'btn small', id: 'thread-link', href: threadHref(msg.thread_id, msgId) + (st ? `&q=${encodeURIComponent(st.q)}` : '') }, 'View thread') : null,
    h('a', { class: 'btn small', id: 'raw-link', href: rawHref(msgId), download: '', rel: 'nofollow' }, 'Download raw'),
    h('a', { class: 'btn small', id: 'permalink', href: messageHref(msg), rel: 'bookmark' }, 'Permalink'),
    navigator.clipboard ? copyBtn : null,
    cite ? cite.button : null);

  const h1 = h('h1', { class: 'msg-subject' }, subject);
  if (msg.highlights && msg.subject) markRanges(h1, msg.highlights.subject);
  const art = h('article', { id: 'message', class: 'message', dataset: { key: msg.key || '' } },
    h1, dl, citedIn, actions, cite ? cite.panel : null);

  const atts = Array.isArray(msg.attachments) ? msg.attachments : [];
  if (atts.length) {
    art.appendChild(h('section', { class: 'attachments', 'aria-label': 'Attachments' },
      h('h2', {}, `Attachments (${atts.length})`),
      h('ul', {}, atts.map((a) => h('li', { class: 'attachment' },
        h('span', { class: 'att-name' }, a.filename ? String(a.filename) : '(unnamed)'),
        h('span', { class: 'att-meta' }, ` ${a.mime ? String(a.mime) : 'application/octet-stream'}, ${fmtBytes(a.size)}`)))),
      h('p', { class: 'muted small' }, 'Attachments are not opened here; download the raw message to get them.')));
  }
  renderBodyParts(art, msg);

  const details = h('dl', { class: 'headers details-list' });
  header(details, 'Message-ID', msg.message_id ? h('code', {}, String(msg.message_id)) : '(none)');
  header(details, 'Key', h('code', {}, String(msg.key || '')));
  header(details, 'Thread', msg.thread_id ? h('code', {}, String(msg.thread_id)) : null);
  header(details, 'Language', msg.lang);
  header(details, 'Size', msg.size ? fmtBytes(msg.size) : null);
  const refs = Array.isArray(msg.references) ? msg.references : [];
  if (refs.length) {
    header(details, 'References', h('ul', { class: 'plain' }, refs.map((r) => h('li', {}, h('a', { href: '/m/' + encodeURIComponent(r) }, String(r))))));
  }
  const locs = Array.isArray(msg.locations) ? msg.locations : [];
  if (locs.length) header(details, 'Stored in', h('ul', { class: 'plain' }, locs.map((l) => h('li', {}, h('code', {}, typeof l === 'string' ? l : JSON.stringify(l))))));
  art.appendChild(h('details', { class: 'msg-details' }, h('summary', {}, 'Message details'), details));

  const nav = contextNav(msg, st);
  const side = outline(msg, st);
  main.replaceChildren(h('div', { class: ['msg-layout', side && 'with-outline'], id: 'msg-layout' }, nav, side, art));
  const cur = side && side.querySelector('.ol-row.current');
  const ol = side && side.querySelector('.outline');
  if (cur && ol) ol.scrollTop = Math.max(0, cur.offsetTop - ol.offsetTop - ol.clientHeight / 2);
  // n/p: next/previous in the thread; ]/[: next/previous result.
  setPageKeys((e) => {
    const to = { n: 'thread-next', p: 'thread-prev', ']': 'result-next', '[': 'result-prev' }[e.key];
    const a = to && document.getElementById(to);
    if (!a || a.tagName !== 'A') return false;
    navigate(a.getAttribute('href'));
    return true;
  });
  main.focus({ preventScroll: true });
}
