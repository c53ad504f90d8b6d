// The viewer's saved searches: "Save search" below a result list (a name and
// the current query), and the list of them on the start page with delete
// buttons. Each one is also a mailbox in the viewer's mail client
// (Saved/<name> over IMAP, docs/IMAP.md). Without users (auth off) the API
// answers 404 and both stay hidden.
import { h, clear, searchHref } from './dom.js';
import { api, ApiError } from './api.js';

export const listSaved = (signal) => api('/api/saved-searches', { signal });
export const saveSearch = (name, query) => api('/api/saved-searches', { method: 'POST', json: { name, query } });
export const deleteSaved = (id) => api('/api/saved-searches/' + encodeURIComponent(id), { method: 'DELETE' });

/** The "Save search" control for query `q`, shown in `box` (a disclosure with a small form). */
export function renderSaveControl(box, q) {
  clear(box);
  const status = h('p', { id: 'save-status', class: 'save-status', role: 'status' });
  const name = h('input', { id: 'save-name', type: 'text', maxlength: '100', required: '', autocomplete: 'off' });
  const form = h('form', { id: 'save-form', class: 'save-form', hidden: true },
    h('label', { for: 'save-name' }, 'Name'), name,
    h('button', { type: 'submit', class: 'btn small primary', id: 'save-submit' }, 'Save'));
  const toggle = h('button', { type: 'button', id: 'save-search', class: 'btn small', 'aria-expanded': 'false', 'aria-controls': 'save-form' }, 'Save search');
  toggle.addEventListener('click', () => {
    const open = form.hidden;
    form.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    if (open) { name.value = name.value || q.slice(0, 100); name.focus(); }
  });
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const res = await saveSearch(name.value.trim(), q);
      const saved = res.saved_search || {};
      status.textContent = `Saved as “${saved.name}”: in your mail client as Saved/${saved.name}.`;
      form.hidden = true;
      toggle.setAttribute('aria-expanded', 'false');
    } catch (e) {
      status.textContent = `Not saved: ${e && e.message ? e.message : String(e)}`;
    }
  });
  box.append(toggle, form, status);
}

/** The start page's "Your saved searches" section (hidden when there are none). */
export async function renderSavedList(section, signal) {
  let res;
  try { res = await listSaved(signal); } catch (e) {
    if (e instanceof ApiError && e.status === 404) return;
    throw e;
  }
  const items = Array.isArray(res.saved_searches) ? res.saved_searches : [];
  const ul = h('ul', { id: 'saved-list', class: 'saved-list' });
  for (const s of items) {
    const del = h('button', { type: 'button', class: 'btn link', 'aria-label': `Delete saved search ${s.name}` }, 'Delete');
    const li = h('li', {},
      h('a', { href: searchHref(s.query) }, String(s.name)),
      h('code', { class: 'muted' }, ` ${s.query} `), del);
    del.addEventListener('click', async () => {
      try { await deleteSaved(s.id); li.remove(); if (!ul.firstChild) section.hidden = true; } catch (e) {
        li.append(h('span', { role: 'alert' }, ` Not deleted: ${e.message}`));
      }
    });
    ul.appendChild(li);
  }
  section.replaceChildren(h('h2', {}, 'Your saved searches'), ul);
  section.hidden = items.length === 0;
}
