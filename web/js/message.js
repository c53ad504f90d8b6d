// Message view (/m/<id>) and the body renderer shared with the thread view.

import { h, fmtDateTime, fmtBytes, appendLinkified, messageHref, threadHref, searchHref } from './dom.js';
import { getMessage, rawHref, ApiError } from './api.js';
import { isCurrent } from './router.js';
import { citedInLine, citeControls, roleAtLeast } from './docs.js';

const lines = (s) => (s ? String(s).replace(/\n+$/, '').split('\n').length : 0);

/** Append the text parts of a message: body, quoted text (collapsed), footer (de-emphasised). */
export function renderBodyParts(container, msg) {
  if (msg.html_only) {
    container.appendChild(h('p', { class: 'notice html-only' },
      'This message had only an HTML part. It is shown as plain text; nothing in it is loaded or run.'));
  }
  const body = String(msg.body ?? '');
  const pre = h('pre', { class: 'msg-body' });
  if (body.trim()) appendLinkified(pre, body.replace(/\s+$/, ''));
  else pre.appendChild(h('span', { class: 'muted' }, msg.quoted ? '(only quoted text)' : '(no text)'));
  container.appendChild(pre);
  if (msg.quoted && String(msg.quoted).trim()) {
    const n = lines(msg.quoted);
    const det = h('details', { class: 'quoted' },
      h('summary', {}, `Show quoted text (${n} ${n === 1 ? 'line' : 'lines'})`),
      appendLinkified(h('pre', { class: 'quoted-text' }), String(msg.quoted).replace(/\s+$/, '')));
    det.addEventListener('toggle', () => {
      det.querySelector('summary').textContent = det.open ? 'Hide quoted text' : `Show quoted text (${n} ${n === 1 ? 'line' : 'lines'})`;
    });
    container.appendChild(det);
  }
  if (msg.footer && String(msg.footer).trim()) {
    container.appendChild(appendLinkified(h('pre', { class: 'msg-footer', 'aria-label': 'Signature and list footer' }), String(msg.footer).replace(/\s+$/, '')));
  }
  return container;
}

function addrList(v) {
  const a = Array.isArray(v) ? v : (v ? [v] : []);
  return a.map(String).join(', ');
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

export async function renderMessage(main, match, _params, gen) {
  let id;
  try { id = decodeURIComponent(match[1]); } catch { id = match[1]; }
  main.replaceChildren(h('div', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), 'Loading message…'));
  let msg;
  try {
    msg = await getMessage(id);
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
  header(dl, 'To', addrList(msg.to));
  header(dl, 'Cc', addrList(msg.cc));
  header(dl, 'Date', h('time', { datetime: msg.date || null }, fmtDateTime(msg.date)));
  if (msg.list) header(dl, 'List', h('a', { href: searchHref(`list:${msg.list}`, 'date') }, String(msg.list)));
  if (msg.archived) header(dl, 'Archived', h('span', { class: 'badge archived', id: 'archived-in' }, `in volume ${msg.archived}`));
  if (Array.isArray(msg.held_by) && msg.held_by.length) header(dl, 'Legal hold', h('span', { class: 'badge held', id: 'held-by' }, msg.held_by.join(', ')));
  if (msg.in_reply_to) header(dl, 'In reply to', h('a', { href: '/m/' + encodeURIComponent(msg.in_reply_to) }, String(msg.in_reply_to)));

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
    msg.thread_id ? h('a', { class: 'btn small', id: 'thread-link', href: threadHref(msg.thread_id, msgId) }, 'View thread') : null,
    h('a', { class: 'btn small', id: 'raw-link', href: rawHref(msgId), download: '', rel: 'nofollow' }, 'Download raw'),
    h('a', { class: 'btn small', id: 'permalink', href: messageHref(msg), rel: 'bookmark' }, 'Permalink'),
    navigator.clipboard ? copyBtn : null,
    cite ? cite.button : null);

  const art = h('article', { id: 'message', class: 'message', dataset: { key: msg.key || '' } },
    h('h1', { class: 'msg-subject' }, subject), dl, citedIn, actions, cite ? cite.panel : null);

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

  main.replaceChildren(art);
  main.focus({ preventScroll: true });
}
