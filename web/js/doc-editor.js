// The document editor (editors): Markdown on the left, its preview beside it
// (stacked on small screens), templates for the three kinds, and citations
// placed at the cursor as `{{cite:N}}` marker lines. Saving, conflicts and
// closing give control back to the document view (docs.js).
//
// The preview is the server's rendering of the draft (POST …/preview): the
// same sanitising Markdown renderer as the document itself, so mail words
// and markup never run. That server-sanitised HTML is the only innerHTML here.

import { h, clear } from './dom.js';
import { api, ApiError } from './api.js';
import { isCurrent } from './router.js';
import { KINDS, STATUSES, getDoc, saveDoc } from './docs.js';
import { TEMPLATES } from './doc-templates.js';

const enc = encodeURIComponent;
const previewDoc = (id, body, signal) => api('/api/docs/' + enc(id) + '/preview', { method: 'POST', json: { body }, signal });

const marker = (n) => `{{cite:${n}}}`;
const capital = (s) => s[0].toUpperCase() + s.slice(1);

/** Opens the editor for `view` (a DocView) in `view.editor`. */
export function openEditor(view) {
  const d = view.doc;
  let base = d.revision;
  const err = h('div', { id: 'doc-edit-error', class: 'error-box', role: 'alert', hidden: true });
  const title = h('input', { id: 'doc-edit-title', type: 'text', required: true, maxlength: '200', value: String(d.title || '') });
  const status = h('select', { id: 'doc-edit-status' }, STATUSES.map(([v, t]) => h('option', { value: v, selected: v === d.status }, t)));
  const kind = h('select', { id: 'doc-edit-kind' }, KINDS.map((k) => h('option', { value: k, selected: k === d.kind }, k)));
  const body = h('textarea', { id: 'doc-edit-body', rows: '24', spellcheck: 'true', 'aria-describedby': 'doc-edit-help' });
  body.value = String(d.body || '');
  const preview = h('div', { id: 'doc-preview', class: 'doc-html doc-preview' });
  const save = h('button', { type: 'submit', class: 'btn primary', id: 'doc-save', 'aria-keyshortcuts': 'Control+S' }, 'Save');
  const cancel = h('button', { type: 'button', class: 'btn', id: 'doc-cancel' }, 'Cancel');

  // Templates: the document's kind first.
  const template = h('select', { id: 'doc-template' }, KINDS.map((k) => h('option', { value: k, selected: k === d.kind }, capital(k))));
  const useTemplate = h('button', { type: 'button', class: 'btn small', id: 'doc-template-insert' }, 'Insert template');
  useTemplate.addEventListener('click', () => {
    const text = TEMPLATES[template.value] || '';
    if (!body.value.trim()) body.value = text;
    else insertBlock(body, text.trimEnd());
    changed();
    body.focus();
  });

  // Citations of this document, placed at the cursor.
  const shown = view.citations.filter((c) => !c.hidden);
  const citePick = h('select', { id: 'doc-cite-pick' }, view.citations.map((c) => h('option', { value: String(c.id) },
    c.hidden ? `[c${c.id}] (hidden from you)` : `[c${c.id}] ${String(c.subject || '(no subject)').slice(0, 60)}`)));
  const place = h('button', { type: 'button', class: 'btn small', id: 'doc-cite-place', disabled: !view.citations.length }, 'Place at cursor');
  place.addEventListener('click', () => {
    const n = citePick.value;
    if (!n) return;
    placeMarker(body, marker(n));
    changed();
    body.focus();
  });

  const form = h('form', { id: 'doc-editor', class: 'doc-editor', 'aria-label': 'Edit document' },
    h('div', { class: 'form-row' },
      h('label', { for: 'doc-edit-title' }, 'Title'), title,
      h('label', { for: 'doc-edit-kind' }, 'Kind'), kind,
      h('label', { for: 'doc-edit-status' }, 'Status'), status),
    h('div', { class: 'form-row editor-tools' },
      h('label', { for: 'doc-template' }, 'Template'), template, useTemplate,
      h('label', { for: 'doc-cite-pick' }, 'Citation'), citePick, place),
    h('div', { class: 'editor-split' },
      h('div', { class: 'editor-pane' },
        h('label', { for: 'doc-edit-body', class: 'block-label' }, 'Text (Markdown)'),
        body,
        h('p', { id: 'doc-edit-help', class: 'muted small' },
          'Markdown. A line ', h('code', {}, '{{cite:3}}'), ' places citation 3: its quotation appears there, once, with its footnote. ',
          `Move the line to move the quotation. Ctrl+S saves.${shown.length < view.citations.length ? ' Citations hidden from you stay as they are.' : ''}`)),
      h('section', { class: 'preview-pane', 'aria-labelledby': 'doc-preview-h' },
        h('h2', { id: 'doc-preview-h', class: 'block-label' }, 'Preview'),
        preview)),
    err,
    h('div', { class: 'form-row editor-actions' }, save, cancel));

  // The preview follows the text, a moment after typing stops.
  let timer = null;
  let inflight = null;
  const render = async () => {
    if (inflight) inflight.abort();
    const ctl = new AbortController();
    inflight = ctl;
    try {
      const res = await previewDoc(String(d.id), body.value, ctl.signal);
      if (ctl.signal.aborted || !isCurrent(view.gen)) return;
      // Server-sanitised Markdown rendering (see the top of this file).
      preview.innerHTML = typeof res.html === 'string' ? res.html : '';
      preview.dataset.rendered = String(Date.now());
      if (!body.value.trim()) preview.replaceChildren(h('p', { class: 'muted' }, 'Nothing written yet: start from a template, or type.'));
    } catch (e) {
      if (ctl.signal.aborted) return;
      preview.replaceChildren(h('p', { class: 'form-error' }, 'No preview: ', e instanceof Error ? e.message : String(e)));
    }
  };
  const changed = () => { clearTimeout(timer); timer = setTimeout(render, 250); };
  body.addEventListener('input', changed);

  const editBtn = view.art.querySelector('#doc-edit-btn');
  const close = () => {
    clearTimeout(timer);
    if (inflight) inflight.abort();
    view.art.classList.remove('editing');
    view.editor.hidden = true;
    view.view.hidden = false;
    clear(view.editor);
    if (editBtn) { editBtn.hidden = false; editBtn.focus(); }
    if (location.search) history.replaceState(history.state, '', location.pathname);
  };
  cancel.addEventListener('click', close);
  const submit = async () => {
    save.disabled = true;
    err.hidden = true;
    try {
      const res = await saveDoc(d.id, { title: title.value.trim(), body: body.value, status: status.value, kind: kind.value, base_revision: base });
      const fresh = await getDoc(String(d.id));
      if (!isCurrent(view.gen)) return;
      view.set(fresh);
      view.refresh();
      const n = res.document ? res.document.revision : fresh.document.revision;
      view.status.textContent = n === base ? 'Nothing changed.' : `Saved as revision ${n}.`;
      close();
      view.reloadHistory();
    } catch (e) {
      if (!isCurrent(view.gen)) return;
      showSaveError(err, e, async () => {
        // Someone saved meanwhile: load theirs, keep ours next to it for copying.
        const fresh = await getDoc(String(d.id));
        if (!isCurrent(view.gen)) return;
        const mine = body.value;
        view.set(fresh);
        view.refresh();
        base = view.doc.revision;
        title.value = String(view.doc.title || '');
        body.value = String(view.doc.body || '');
        status.value = view.doc.status;
        changed();
        err.className = 'notice conflict-note';
        err.replaceChildren(h('p', {}, `Loaded revision ${base}. Your unsaved text is below: copy what you need into the editor, then save.`),
          h('label', { for: 'doc-mine', class: 'block-label' }, 'Your unsaved text'),
          h('textarea', { id: 'doc-mine', rows: '8', readonly: true }, mine));
        body.focus();
      });
    } finally {
      save.disabled = false;
    }
  };
  form.addEventListener('submit', (ev) => { ev.preventDefault(); submit(); });
  form.addEventListener('keydown', (ev) => {
    if ((ev.ctrlKey || ev.metaKey) && !ev.altKey && ev.key.toLowerCase() === 's') { ev.preventDefault(); submit(); }
    else if (ev.key === 'Escape' && ev.target !== body) { ev.preventDefault(); close(); }
  });
  view.editor.replaceChildren(form);
  view.art.classList.add('editing');
  view.view.hidden = true;
  view.editor.hidden = false;
  if (editBtn) editBtn.hidden = true;
  render();
  body.focus();
}

/** Inserts `text` as its own block (blank lines around it) at the cursor's line end. */
function insertBlock(ta, text) {
  const v = ta.value;
  let at = ta.selectionEnd ?? v.length;
  const nl = v.indexOf('\n', at);
  if (at > 0 && v[at - 1] !== '\n') at = nl < 0 ? v.length : nl;
  const before = v.slice(0, at).replace(/\n*$/, '');
  const after = v.slice(at).replace(/^\n*/, '');
  const head = before ? before + '\n\n' : '';
  ta.value = head + text + '\n' + (after ? '\n' + after : '');
  const caret = head.length + text.length;
  ta.setSelectionRange(caret, caret);
}

/** Moves marker line `m` to the cursor: other lines holding it go, so it renders once. */
function placeMarker(ta, m) {
  const v = ta.value;
  const at = ta.selectionEnd ?? v.length;
  // Where the cursor is once the old marker lines are gone.
  let kept = '';
  let cursor = 0;
  let pos = 0;
  for (const line of v.split(/(?<=\n)/)) {
    const end = pos + line.length;
    if (line.trim() !== m) {
      cursor += Math.max(0, Math.min(at, end) - pos);
      kept += line;
    }
    pos = end;
  }
  ta.value = kept;
  ta.setSelectionRange(cursor, cursor);
  insertBlock(ta, m);
}

function showSaveError(err, e, reload) {
  err.className = 'error-box';
  if (e instanceof ApiError && e.status === 409) {
    const btn = h('button', { type: 'button', class: 'btn small', id: 'doc-reload' }, 'Load the newest revision');
    btn.addEventListener('click', () => { btn.disabled = true; reload().catch((x) => { err.replaceChildren(h('p', {}, x.message)); }); });
    err.replaceChildren(h('p', { class: 'error-title' }, h('strong', {}, 'Someone else saved this document meanwhile. '), e.message), btn);
  } else {
    err.replaceChildren(h('p', { class: 'error-title' }, 'Not saved: ', e.message));
  }
  err.hidden = false;
}
