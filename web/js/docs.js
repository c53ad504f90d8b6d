// Curated documents: the list (/docs), one document (/docs/<id>) with its
// citations, editing (editors), revisions and diffs; plus the "Cited in" line
// and the "Cite in document…" panel of the message view, and the viewer's role.
//
// Mail-derived text (subjects, authors, excerpts) only ever goes through
// textContent. The one innerHTML in the UI is a document's `html`: Markdown
// the server rendered and sanitised (raw HTML shown as text, safe links only).

import { h, clear, fmtNum, plural } from './dom.js';
import { api, ApiError } from './api.js';
import { isCurrent, navigate } from './router.js';
import { openEditor } from './doc-editor.js';

const enc = encodeURIComponent;

// --- who is looking ----------------------------------------------------------

const RANK = { reader: 0, reviewer: 1, editor: 2, admin: 3 };

/** The viewer's role as /api/me said (app.js keeps it on <body data-role>). */
export const role = () => document.body.dataset.role || 'reader';
export const roleAtLeast = (r) => (RANK[role()] ?? 0) >= (RANK[r] ?? 99);

// --- the API -------------------------------------------------------------------

export const listDocs = (signal) => api('/api/docs', { signal });
export const getDoc = (id, signal) => api('/api/docs/' + enc(id), { signal });
const createDoc = (doc) => api('/api/docs', { method: 'POST', json: doc });
export const saveDoc = (id, changes) => api('/api/docs/' + enc(id), { method: 'PUT', json: changes });
const getRevisions = (id) => api('/api/docs/' + enc(id) + '/revisions');
const getDiff = (id, from, to) => api(`/api/docs/${enc(id)}/diff?` + new URLSearchParams({ from: String(from), to: String(to) }).toString());
/** Cites a message (`{message_id, passage}`) or a thread's first message (`{thread_id}`) in a document. */
export const citeIn = (id, what) => api('/api/docs/' + enc(id) + '/citations', { method: 'POST', json: what });

export const KINDS = ['procedure', 'policy', 'guideline'];
export const STATUSES = [['draft', 'Draft'], ['in_review', 'In review'], ['published', 'Published']];
const statusLabel = (s) => (STATUSES.find(([v]) => v === s) || [s, String(s || '')])[1];

export const docHref = (d) => '/docs/' + enc(String(d.id));

/** "2019-03-01" from unix seconds ("" for none). */
export function secsDay(secs) {
  const n = Number(secs);
  if (!Number.isFinite(n) || n <= 0) return '';
  return new Date(n * 1000).toISOString().slice(0, 10);
}

const badge = (cls, text) => h('span', { class: ['badge', cls] }, text);
const statusBadge = (s) => badge('st-' + String(s || '').replace(/[^a-z_]/g, ''), statusLabel(s));

function errorBox(id, e, prefix) {
  return h('div', { id, class: 'error-box', role: 'alert' },
    h('p', { class: 'error-title' }, prefix, ' ', e instanceof ApiError || e instanceof Error ? e.message : String(e)));
}

function loading(text) {
  return h('div', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

// --- /docs ----------------------------------------------------------------------

export async function renderDocs(main, _m, _params, gen) {
  document.title = 'Documents — gleaner';
  main.replaceChildren(loading('Loading documents…'));
  let data;
  try { data = await listDocs(); } catch (e) {
    if (!isCurrent(gen)) return;
    main.replaceChildren(errorBox('error', e, 'Could not load the documents:'));
    return;
  }
  if (!isCurrent(gen)) return;
  const docs = Array.isArray(data.documents) ? data.documents : [];
  const page = h('div', { id: 'docs', class: 'docs-page' },
    h('header', { class: 'page-head' },
      h('h1', {}, 'Documents'),
      h('p', { class: 'muted' }, 'Procedures, policies and guidelines harvested from the archive, with citations back to the mail.'),
      h('a', { class: 'btn small', id: 'docs-tar', href: '/api/docs/published.tar', download: '' }, 'Download all published (.tar)')));
  if (roleAtLeast('editor')) page.appendChild(newDocForm());
  if (!docs.length) {
    page.appendChild(h('p', { class: 'empty-state', id: 'docs-empty' },
      roleAtLeast('editor') ? 'No documents yet. Create the first one above.' : 'No documents have been published yet.'));
  } else {
    page.appendChild(h('table', { class: 'data-table', id: 'docs-table' },
      h('caption', { class: 'visually-hidden' }, 'Documents, newest change first'),
      // Owner, revision and date give way on small screens (class "opt").
      h('thead', {}, h('tr', {}, [['Title'], ['Kind'], ['Status'], ['Owner', 'opt'], ['Revision', 'opt'], ['Updated', 'opt']].map(([t, cls]) => h('th', { scope: 'col', class: cls || null }, t)))),
      h('tbody', {}, docs.map((d) => h('tr', { dataset: { docId: d.id } },
        h('td', {}, h('a', { href: docHref(d), class: 'doc-link' }, String(d.title || '(untitled)'))),
        h('td', {}, badge('kind', String(d.kind || ''))),
        h('td', {}, statusBadge(d.status)),
        h('td', { class: 'opt' }, String(d.owner || '')),
        h('td', { class: ['num', 'opt'] }, fmtNum(d.revision)),
        h('td', { class: ['num', 'opt'] }, h('time', {}, secsDay(d.updated))))))));
  }
  main.replaceChildren(page);
}

function newDocForm() {
  const err = h('div', { class: 'form-error', id: 'new-doc-error', role: 'alert', hidden: true });
  const kind = h('select', { id: 'new-doc-kind', name: 'kind' }, KINDS.map((k) => h('option', { value: k }, k[0].toUpperCase() + k.slice(1))));
  const title = h('input', { id: 'new-doc-title', name: 'title', type: 'text', required: true, maxlength: '200', autocomplete: 'off', placeholder: 'e.g. Recovering a full WAL disk' });
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'new-doc-submit' }, 'Create');
  const form = h('form', { id: 'new-doc-form', class: 'inline-form', 'aria-labelledby': 'new-doc-heading' },
    h('h2', { id: 'new-doc-heading' }, 'New document'),
    h('div', { class: 'form-row' },
      h('label', { for: 'new-doc-kind' }, 'Kind'), kind,
      h('label', { for: 'new-doc-title' }, 'Title'), title,
      submit),
    err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = title.value.trim();
    if (!t) { title.focus(); return; }
    submit.disabled = true;
    err.hidden = true;
    try {
      const res = await createDoc({ kind: kind.value, title: t, body: '' });
      navigate(docHref(res.document) + '?edit=1');
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

// --- /docs/<id> -------------------------------------------------------------------

export async function renderDoc(main, match, params, gen) {
  let id;
  try { id = decodeURIComponent(match[1]); } catch { id = match[1]; }
  id = id.replace(/\/+$/, '');
  main.replaceChildren(loading('Loading document…'));
  let data;
  try { data = await getDoc(id); } catch (e) {
    if (!isCurrent(gen)) return;
    main.replaceChildren(e instanceof ApiError && e.status === 404
      ? h('div', { id: 'error', class: 'error-box', role: 'alert' }, h('p', { class: 'error-title' }, 'No such document (or it is not published yet). '), h('a', { href: '/docs' }, 'All documents'))
      : errorBox('error', e, 'Could not load the document:'));
    return;
  }
  if (!isCurrent(gen)) return;
  new DocView(main, data, gen).show(params.get('edit') === '1' && roleAtLeast('editor'));
}

class DocView {
  constructor(main, data, gen) {
    this.main = main;
    this.gen = gen;
    this.set(data);
  }

  set(data) {
    this.doc = data.document || {};
    this.html = typeof data.html === 'string' ? data.html : '';
    this.citations = Array.isArray(data.citations) ? data.citations : [];
    this.reviews = data.reviews && typeof data.reviews === 'object' ? data.reviews : {};
  }

  show(edit) {
    const d = this.doc;
    document.title = `${d.title || 'Document'} — gleaner`;
    this.status = h('p', { id: 'doc-status', class: 'doc-status', role: 'status', 'aria-live': 'polite' });
    this.view = h('div', { id: 'doc-view', class: 'doc-view' });
    this.editor = h('div', { id: 'doc-editor-box', hidden: true });
    const editBtn = roleAtLeast('editor')
      ? h('button', { type: 'button', class: 'btn small', id: 'doc-edit-btn', onclick: () => this.edit() }, 'Edit')
      : null;
    this.art = h('article', { id: 'doc', class: 'doc', dataset: { docId: d.id, revision: d.revision } },
      h('p', { class: 'crumbs' }, h('a', { href: '/docs' }, 'Documents'), ' ›'),
      h('h1', { id: 'doc-title' }, String(d.title || '(untitled)')),
      this.meta = h('p', { class: 'doc-meta' }),
      h('div', { class: 'doc-actions' },
        editBtn,
        h('a', { class: 'btn small', id: 'doc-export-md', href: `/api/docs/${enc(String(d.id))}/export.md`, download: '' }, 'Export .md'),
        h('a', { class: 'btn small', id: 'doc-export-html', href: `/api/docs/${enc(String(d.id))}/export.html`, download: '' }, 'Export .html')),
      this.status, this.view, this.editor,
      this.citeBox = h('section', { id: 'doc-citations', class: 'doc-citations', 'aria-labelledby': 'doc-citations-h' }),
      this.history());
    this.refresh();
    this.main.replaceChildren(this.art);
    if (edit) this.edit();
    else this.main.focus({ preventScroll: true });
  }

  /** Fill the parts that change with a save: meta line, rendered body, citations. */
  refresh() {
    const d = this.doc;
    this.art.dataset.revision = String(d.revision);
    this.art.querySelector('#doc-title').textContent = String(d.title || '(untitled)');
    clear(this.meta).append(badge('kind', String(d.kind || '')), ' ', statusBadge(d.status),
      ` · owner ${d.owner || '—'} · revision ${fmtNum(d.revision)} · updated ${secsDay(d.updated)}`);
    const body = h('div', { class: 'doc-html', id: 'doc-html' });
    // Server-sanitised Markdown rendering (see the top of this file).
    body.innerHTML = this.html;
    // The export rendering repeats the title and a meta line that the page
    // shows already: they go (the page keeps one h1).
    const first = body.firstElementChild;
    if (first && first.tagName === 'H1' && first.textContent.trim() === String(d.title || '').trim()) {
      const meta = first.nextElementSibling;
      if (meta && meta.tagName === 'P' && meta.children.length === 1 && meta.firstElementChild.tagName === 'EM') meta.remove();
      first.remove();
    }
    this.view.replaceChildren(body);
    if (!String(d.body || '').trim() && !this.citations.length) {
      this.view.appendChild(h('p', { class: 'muted' }, roleAtLeast('editor') ? 'This document is empty: press Edit to write it, or cite messages into it.' : 'This document is empty.'));
    }
    const cits = this.citations;
    this.citeBox.replaceChildren(h('h2', { id: 'doc-citations-h' }, `Citations (${fmtNum(cits.length)})`),
      cits.length ? h('ol', { class: 'citations' }, cits.map((c) => citationItem(c, this.reviews, placedIn(d.body, c.id)))) : h('p', { class: 'muted small' }, 'No messages cited yet. Cite one from a message page or by promoting a thread in a review queue.'));
  }

  edit() {
    if (roleAtLeast('editor')) openEditor(this);
  }

  history() {
    this.revBox = h('div', { id: 'doc-revisions' });
    const det = h('details', { id: 'doc-history', class: 'doc-history' }, h('summary', {}, 'History and changes'), this.revBox);
    det.addEventListener('toggle', () => { if (det.open && !this.revBox.dataset.loaded) this.loadHistory(); });
    this.historyEl = det;
    return det;
  }

  reloadHistory() {
    delete this.revBox.dataset.loaded;
    if (this.historyEl.open) this.loadHistory();
  }

  async loadHistory() {
    const box = this.revBox;
    box.dataset.loaded = '1';
    box.replaceChildren(loading('Loading revisions…'));
    let revs;
    try { revs = (await getRevisions(String(this.doc.id))).revisions || []; } catch (e) {
      box.replaceChildren(errorBox('doc-revisions-error', e, 'Could not load the revisions:'));
      delete box.dataset.loaded;
      return;
    }
    const rows = revs.map((r, i) => h('tr', { dataset: { rev: r.n } },
      h('td', {}, h('input', { type: 'radio', name: 'diff-from', value: String(r.n), checked: i === 1 || (revs.length === 1 && i === 0), 'aria-label': `Compare from revision ${r.n}` })),
      h('td', {}, h('input', { type: 'radio', name: 'diff-to', value: String(r.n), checked: i === 0, 'aria-label': `Compare to revision ${r.n}` })),
      h('td', { class: 'num' }, String(r.n)),
      h('td', {}, String(r.title || '')),
      h('td', {}, String(r.author || '')),
      h('td', { class: 'num' }, secsDay(r.at))));
    const diff = h('div', { id: 'doc-diff', class: 'diff', 'aria-live': 'polite' });
    const compare = h('button', { type: 'button', class: 'btn small', id: 'diff-btn', disabled: revs.length < 2 }, 'Show changes');
    const form = h('div', {},
      h('table', { class: 'data-table revisions', id: 'doc-revisions-table' },
        h('caption', { class: 'visually-hidden' }, 'Revisions, newest first'),
        h('thead', {}, h('tr', {}, ['From', 'To', 'Rev.', 'Title', 'Author', 'Saved'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', {}, rows)),
      h('div', { class: 'form-row' }, compare, revs.length < 2 ? h('span', { class: 'muted small' }, 'Only one revision so far.') : null),
      diff);
    const pick = (name) => Number((form.querySelector(`input[name="${name}"]:checked`) || {}).value);
    compare.addEventListener('click', async () => {
      const from = pick('diff-from');
      const to = pick('diff-to');
      if (!from || !to) return;
      diff.replaceChildren(loading('Comparing…'));
      try {
        renderDiff(diff, await getDiff(String(this.doc.id), from, to));
      } catch (e) {
        diff.replaceChildren(errorBox('doc-diff-error', e, 'Could not compare:'));
      }
    });
    box.replaceChildren(form);
    if (revs.length >= 2) compare.click();
  }
}

function revLabel(r) {
  if (r && typeof r === 'object') return `revision ${r.n}${r.author ? ` (${r.author}, ${secsDay(r.at)})` : ''}`;
  return `revision ${r}`;
}

/** A unified diff: one row per line, "-" removed, "+" added, " " unchanged. */
function renderDiff(box, d) {
  const lines = Array.isArray(d.lines) ? d.lines : [];
  const changed = lines.filter((l) => l.op === '+' || l.op === '-').length;
  const head = h('p', { class: 'diff-head' }, `From ${revLabel(d.from)} to ${revLabel(d.to)}: ${plural(changed, 'changed line')}.`);
  const pre = h('pre', { class: 'diff-lines', id: 'doc-diff-lines' });
  for (const l of lines) {
    const op = l.op === '+' || l.op === '-' ? l.op : ' ';
    const cls = op === '+' ? 'add' : op === '-' ? 'del' : 'ctx';
    pre.appendChild(h('span', { class: ['dl', cls], dataset: { op } },
      h('span', { class: 'dl-op', 'aria-hidden': 'true' }, op),
      op === '+' ? h('span', { class: 'visually-hidden' }, 'added: ') : op === '-' ? h('span', { class: 'visually-hidden' }, 'removed: ') : null,
      String(l.text ?? ''), '\n'));
  }
  box.replaceChildren(head, lines.length ? pre : h('p', { class: 'muted' }, 'The two revisions have the same text.'));
}

const DECIDED = { promote: 'Promoted', keep: 'Kept', dismiss: 'Dismissed' };

/** Does `body` place citation `n` (a `{{cite:N}}` line, or an older quoted block with `[^cN]`)? */
function placedIn(body, n) {
  const text = String(body || '');
  return text.includes(`[^c${n}]`) || text.split('\n').some((l) => l.trim() === `{{cite:${n}}}`);
}

/**
 * One entry of the citations list: where it comes from, and the review notes.
 * Its excerpt is quoted in the text where the citation is placed; only a
 * citation placed nowhere shows its excerpt here.
 */
function citationItem(c, reviews = {}, placed = true) {
  // A citation of a message this reader cannot see: the server sent its number only.
  if (c.hidden) {
    return h('li', { class: 'citation hidden-citation', id: `cit-${c.id}` },
      h('p', { class: 'cit-head muted' }, h('span', { class: 'cit-n' }, `[c${c.id}] `), 'A citation to a message you cannot see is hidden.'));
  }
  const href = '/m/' + enc(String(c.message_id || ''));
  return h('li', { class: 'citation', id: `cit-${c.id}`, dataset: { messageId: c.message_id || '' } },
    h('p', { class: 'cit-head' },
      h('span', { class: 'cit-n' }, `[c${c.id}] `),
      h('a', { href, class: 'cit-link' }, String(c.subject || '(no subject)'))),
    h('p', { class: 'cit-meta muted small' }, [c.author, c.list, secsDay(c.date)].filter(Boolean).map(String).join(' · '),
      c.created_by ? ` — cited by ${c.created_by} on ${secsDay(c.created_at)}` : ''),
    !placed && c.excerpt ? h('p', { class: 'cit-unplaced small' }, 'Not placed in the text yet (an editor places it with ', h('code', {}, `{{cite:${c.id}}}`), '):') : null,
    !placed && c.excerpt ? h('blockquote', { class: 'cit-excerpt' }, String(c.excerpt)) : null,
    // Reviewers see why the thread was kept: the review notes on it.
    ...(Array.isArray(reviews[c.thread_id]) ? reviews[c.thread_id] : []).filter((r) => r.note).map((r) =>
      h('p', { class: 'cit-review small' }, h('strong', {}, `${DECIDED[r.decision] || r.decision} in “${r.policy}” by ${r.by}: `), String(r.note))));
}

// --- the message view's part ----------------------------------------------------------

/** "Cited in: <links>" for a message's `cited_in` (empty when none). */
export function citedInLine(citedIn) {
  const p = h('p', { id: 'cited-in', class: 'cited-in' });
  fillCitedIn(p, citedIn);
  return p;
}

function fillCitedIn(p, citedIn) {
  const docs = Array.isArray(citedIn) ? citedIn : [];
  p.hidden = !docs.length;
  clear(p).append(h('span', { class: 'cited-label' }, 'Cited in: '));
  docs.forEach((d, i) => {
    if (i) p.append(', ');
    p.append(h('a', { href: docHref(d), class: 'cited-doc', dataset: { docId: d.id } }, String(d.title || d.slug || d.id)),
      ' ', h('span', { class: 'muted small' }, `(${d.kind}${d.status && d.status !== 'published' ? ', ' + statusLabel(d.status).toLowerCase() : ''})`));
  });
}

/**
 * The "Cite in document…" button and its panel. `passage()` returns the text
 * the reader selected in the message body ('' when none); `citedIn` is the
 * line to update after citing.
 */
export function citeControls(messageId, passage, citedIn, known) {
  const docsKnown = Array.isArray(known) ? [...known] : [];
  const panel = h('section', { id: 'cite-panel', class: 'cite-panel', 'aria-label': 'Cite this message in a document', hidden: true });
  const btn = h('button', { type: 'button', class: 'btn small', id: 'cite-btn', 'aria-expanded': 'false', 'aria-controls': 'cite-panel' }, 'Cite in document…');
  // Clicking the button must not lose the selection: read it before focus moves.
  let picked = '';
  btn.addEventListener('mousedown', () => { picked = passage(); });
  btn.addEventListener('click', async () => {
    if (!panel.hidden) { panel.hidden = true; btn.setAttribute('aria-expanded', 'false'); return; }
    const text = picked || passage();
    picked = '';
    btn.setAttribute('aria-expanded', 'true');
    panel.hidden = false;
    panel.replaceChildren(loading('Loading documents…'));
    let docs;
    try { docs = (await listDocs()).documents || []; } catch (e) {
      panel.replaceChildren(errorBox('cite-error', e, 'Could not load the documents:'));
      return;
    }
    openPanel(panel, btn, docs, text, messageId, (doc) => {
      if (!docsKnown.some((d) => String(d.id) === String(doc.id))) docsKnown.push(doc);
      fillCitedIn(citedIn, docsKnown);
    });
  });
  return { button: btn, panel };
}

function openPanel(panel, btn, docs, text, messageId, onCited) {
  const status = h('div', { id: 'cite-status', role: 'status', 'aria-live': 'polite' });
  if (!docs.length) {
    panel.replaceChildren(h('p', {}, 'There are no documents to cite into yet. ',
      roleAtLeast('editor') ? h('a', { href: '/docs' }, 'Create one') : 'Ask an editor to create one.'));
    return;
  }
  const last = sessionStorage.getItem('gleaner.citeDoc');
  const select = h('select', { id: 'cite-doc' }, docs.map((d) => h('option', { value: String(d.id), selected: String(d.id) === last }, `${d.title} (${d.kind}, ${statusLabel(d.status).toLowerCase()})`)));
  const go = h('button', { type: 'submit', class: 'btn primary small', id: 'cite-submit' }, 'Cite');
  const cancel = h('button', { type: 'button', class: 'btn small', id: 'cite-cancel' }, 'Cancel');
  const form = h('form', { class: 'cite-form' },
    text
      ? h('div', {}, h('p', { class: 'small muted' }, 'Passage (your selection):'), h('blockquote', { class: 'cit-excerpt', id: 'cite-passage' }, text))
      : h('p', { class: 'small muted', id: 'cite-passage-none' }, 'No text selected: the start of the message will be quoted. (Select a passage in the message first to quote just that.)'),
    h('div', { class: 'form-row' }, h('label', { for: 'cite-doc' }, 'Document'), select, go, cancel),
    status);
  cancel.addEventListener('click', () => { panel.hidden = true; btn.setAttribute('aria-expanded', 'false'); btn.focus(); });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    go.disabled = true;
    status.replaceChildren('Citing…');
    try {
      const res = await citeIn(select.value, text ? { message_id: messageId, passage: text } : { message_id: messageId });
      sessionStorage.setItem('gleaner.citeDoc', select.value);
      const doc = res.document || docs.find((d) => String(d.id) === select.value);
      status.replaceChildren('Cited in ', h('a', { href: docHref(doc), id: 'cite-done-link' }, String(doc.title)),
        res.citation ? ` as [c${res.citation.id}], revision ${doc.revision}.` : '.');
      onCited(doc);
    } catch (e) {
      status.replaceChildren(h('span', { class: 'form-error' }, 'Not cited: ', e.message));
    } finally {
      go.disabled = false;
    }
  });
  panel.replaceChildren(form);
  select.focus();
}
