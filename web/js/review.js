// Review queues: the policies with their progress (/review; admins edit UI
// policies) and one queue (/review/<name>), triaged from the keyboard.
//
// The queue is optimistic: a decision takes the thread off the list at once
// and the next one becomes current; the requests go to the server one after
// another (so "undo" always undoes what the reviewer last saw), and a failed
// one puts its threads back. Progress comes from the server's answers.

import { h, append, clear, fmtNum, plural, fmtDateTime, splitAddress, threadHref, messageHref } from './dom.js';
import { api, getMessage, getThread, ApiError } from './api.js';
import { isCurrent, navigate } from './router.js';
import { setPageKeys } from './keys.js';
import { renderBodyParts } from './message.js';
import { listDocs, roleAtLeast, secsDay } from './docs.js';
import { loadStats } from './stats.js';

const enc = encodeURIComponent;
const PAGE = 100;          // queue items per request
const REFILL_AT = 20;      // fetch more when this few are left below the current one
const PROMOTE_DOC = 'gleaner.promoteDoc';

const getPolicies = () => api('/api/review/policies');
const putPolicy = (name, p) => api('/api/review/policies/' + enc(name), { method: 'PUT', json: p });
const deletePolicy = (name) => api('/api/review/policies/' + enc(name), { method: 'DELETE' });
const getQueue = (name, params) => api('/api/review/queues/' + enc(name) + '?' + new URLSearchParams(params).toString());
const postDecision = (name, body) => api('/api/review/queues/' + enc(name) + '/decisions', { method: 'POST', json: body });
const postUndo = (name) => api('/api/review/queues/' + enc(name) + '/undo', { method: 'POST', json: {} });

const getRounds = () => api('/api/review/rounds');
const postCalendarToken = () => api('/api/review/calendar-token', { method: 'POST', json: {} });
const queueHref = (name, extra) => '/review/' + enc(name) + (extra ? '?' + new URLSearchParams(extra).toString() : '');

function loading(text) {
  return h('div', { class: 'loading' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

function forbidden(main, e) {
  main.replaceChildren(h('div', { id: 'error', class: 'error-box', role: 'alert' },
    h('p', { class: 'error-title' }, e instanceof ApiError && e.status === 403
      ? 'Review queues are for reviewers, editors and admins.'
      : e instanceof ApiError && e.status === 404 ? `${e.message}.` : `Could not load the review queues: ${e.message}`),
    h('p', {}, h('a', { href: '/review' }, 'All review queues'), ' · ', h('a', { href: '/' }, 'Search'))));
}

/** "older than 6y (by date) on a, b, matching q". */
function describe(p) {
  const lists = Array.isArray(p.lists) && p.lists.length ? p.lists.join(', ') : 'every list';
  return `Threads older than ${p.older_than} (by ${p.age_basis === 'arrival' ? 'arrival' : 'date'}) on ${lists}`
    + (p.query ? `, matching ${p.query}` : '');
}

/** A labelled progress bar: `<progress>` plus "done / total". */
function bar(label, done, total, opts = {}) {
  const pct = total ? Math.round((100 * done) / total) : 0;
  return h('div', { class: ['bar-row', opts.cls], dataset: { done, total } },
    opts.href ? h('a', { href: opts.href, class: 'bar-key', title: opts.title || null }, label) : h('span', { class: 'bar-key' }, label),
    h('progress', { max: String(Math.max(total, 1)), value: String(done), 'aria-label': `${label}: ${done} of ${total} decided` }),
    h('span', { class: 'bar-num' }, `${fmtNum(done)} / ${fmtNum(total)}`, h('span', { class: 'muted' }, ` ${pct}%`)));
}

// --- /review --------------------------------------------------------------------------

export async function renderReviewHome(main, _m, _params, gen) {
  document.title = 'Review — gleaner';
  main.replaceChildren(loading('Loading review policies…'));
  let policies;
  try { policies = (await getPolicies()).policies || []; } catch (e) {
    if (isCurrent(gen)) forbidden(main, e);
    return;
  }
  if (!isCurrent(gen)) return;
  const admin = roleAtLeast('admin');
  const list = h('ul', { id: 'policy-list', class: 'policy-list' });
  const page = h('div', { id: 'review', class: 'review-home' },
    h('header', { class: 'page-head' },
      h('h1', {}, 'Review queues'),
      h('p', { class: 'muted' }, 'Old threads to triage, most likely still useful first. Promote what belongs in a document, keep what is worth keeping, dismiss the rest.')),
    list);
  if (!policies.length) {
    list.appendChild(h('li', { class: 'empty-state' }, admin ? 'No review policies yet: create one below.' : 'No review policies yet. An admin creates them here or in gleaner.toml ([[review]]).'));
  }
  const form = admin ? policyForm(gen) : null;
  const cards = policies.map((p) => {
    const progress = h('div', { class: 'policy-progress' }, loading('Counting…'));
    const li = h('li', { class: 'policy-card', dataset: { policy: p.name } },
      h('div', { class: 'policy-title' },
        h('h2', {}, h('a', { href: queueHref(p.name), class: 'policy-link' }, p.name)),
        h('span', { class: ['badge', p.origin === 'config' ? 'origin-config' : 'origin-ui'] }, p.origin === 'config' ? 'from gleaner.toml' : 'made in the UI')),
      h('p', { class: 'policy-desc' }, describe(p)),
      ...(p.warnings || []).map((w) => h('p', { class: 'form-error', role: 'alert' }, w)),
      progress,
      admin && p.origin !== 'config' ? h('div', { class: 'policy-actions' },
        h('button', { type: 'button', class: 'btn small', onclick: () => form.edit(p) }, 'Edit'),
        deleteButton(p.name, gen)) : null,
      admin && p.origin === 'config' ? h('p', { class: 'muted small' }, 'Read-only here: change it in gleaner.toml.') : null);
    list.appendChild(li);
    return [p, progress];
  });
  if (form) page.appendChild(form.el);
  page.insertBefore(calendarBox(), list.nextSibling);
  main.replaceChildren(page);
  // Open rounds under their policy's card, overdue ones flagged.
  getRounds().then((r) => {
    if (!isCurrent(gen)) return;
    for (const round of (r.rounds || []).filter((x) => !x.closed_at)) {
      const card = list.querySelector(`.policy-card[data-policy="${CSS.escape(round.policy)}"]`);
      if (card) card.insertBefore(roundBox(round), card.querySelector('.policy-progress'));
    }
  }).catch(() => {});
  // Progress of each policy, two at a time (a cold queue is harvested on first ask).
  let next = 0;
  const worker = async () => {
    while (next < cards.length && isCurrent(gen)) {
      const [p, box] = cards[next++];
      try {
        const q = await getQueue(p.name, { limit: '1' });
        const pr = q.progress || {};
        box.replaceChildren(bar('Decided', pr.done || 0, pr.total || 0),
          h('p', { class: 'muted small' }, `${plural(Math.max(0, (pr.total || 0) - (pr.done || 0)), 'thread')} left · ${fmtNum(pr.promote || 0)} promoted · ${fmtNum(pr.keep || 0)} kept · ${fmtNum(pr.dismiss || 0)} dismissed`));
      } catch (e) {
        box.replaceChildren(h('p', { class: 'form-error' }, e.message));
      }
    }
  };
  await Promise.all([worker(), worker()]);
}

/** An open round: due date (flagged when overdue) and progress per reviewer. */
function roundBox(r) {
  const title = String(r.period || '').startsWith('manual:') ? `Round ${r.id}` : `Round ${r.period}`;
  return h('div', { class: ['policy-round', r.overdue ? 'overdue' : null], dataset: { round: r.id, overdue: r.overdue ? '1' : '0' } },
    h('p', { class: 'round-head' },
      h('strong', {}, title), ' · ',
      r.overdue ? h('span', { class: 'badge round-overdue', role: 'status' }, 'Overdue') : null,
      r.overdue ? ' ' : null,
      `due ${secsDay(r.due_at)} · ${fmtNum(r.decided)} of ${fmtNum(r.total)} decided`),
    ...(r.reviewers || []).map((p) => bar(p.reviewer || 'nobody may read', p.decided, p.assigned, { cls: 'round-reviewer' })));
}

/** "Calendar": the viewer's own iCalendar feed URL (a new token each time). */
function calendarBox() {
  const out = h('input', { id: 'calendar-url', type: 'text', readonly: true, hidden: true, 'aria-label': 'Your review calendar URL', size: '60' });
  const err = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const btn = h('button', { type: 'button', class: 'btn small', id: 'calendar-link' }, 'Get my calendar link');
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    err.hidden = true;
    try {
      const r = await postCalendarToken();
      out.value = r.url;
      out.hidden = false;
      out.select();
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
    } finally {
      btn.disabled = false;
    }
  });
  return h('section', { class: 'calendar-box', 'aria-labelledby': 'calendar-h' },
    h('h2', { id: 'calendar-h' }, 'Review rounds in your calendar'),
    h('p', { class: 'muted small' }, 'Subscribe to this URL in a calendar app to see your rounds and their due dates. It opens only your calendar; a new link replaces the old one.'),
    btn, ' ', out, err);
}

function deleteButton(name, gen) {
  const btn = h('button', { type: 'button', class: 'btn small danger' }, 'Delete');
  let armed = null;
  btn.addEventListener('click', async () => {
    if (!armed) {
      btn.textContent = `Really delete ${name}?`;
      armed = setTimeout(() => { armed = null; btn.textContent = 'Delete'; }, 4000);
      return;
    }
    clearTimeout(armed);
    btn.disabled = true;
    try {
      await deletePolicy(name);
      if (isCurrent(gen)) navigate('/review', { replace: true });
    } catch (e) {
      btn.disabled = false;
      btn.textContent = `Not deleted: ${e.message}`;
    }
  });
  return btn;
}

function policyForm(gen) {
  const err = h('div', { id: 'policy-error', class: 'form-error', role: 'alert', hidden: true });
  const heading = h('h2', { id: 'policy-form-h' }, 'New policy');
  const name = h('input', { id: 'policy-name', type: 'text', required: true, maxlength: '64', autocomplete: 'off', placeholder: 'ops-old', 'aria-describedby': 'policy-name-help' });
  const older = h('input', { id: 'policy-older', type: 'text', required: true, value: '6y', size: '5', 'aria-describedby': 'policy-older-help' });
  const basis = h('select', { id: 'policy-basis' }, h('option', { value: 'date' }, 'the message’s Date'), h('option', { value: 'arrival' }, 'arrival in the mail system'));
  const query = h('input', { id: 'policy-query', type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'optional, e.g. -subject:announce' });
  const lists = h('div', { class: 'check-grid', id: 'policy-lists' });
  const save = h('button', { type: 'submit', class: 'btn primary', id: 'policy-save' }, 'Save policy');
  const cancel = h('button', { type: 'button', class: 'btn', id: 'policy-cancel', hidden: true }, 'Cancel');
  let known = [];
  const setLists = (chosen) => {
    const all = [...new Set([...known, ...chosen])];
    lists.replaceChildren(...(all.length ? all.map((l, i) => h('label', { class: 'check' },
      h('input', { type: 'checkbox', value: l, id: `policy-list-${i}`, checked: chosen.includes(l) }), ' ', l)) : [h('span', { class: 'muted small' }, 'No lists indexed yet.')]));
  };
  loadStats().then((s) => { known = (s.lists || []).map((l) => String(l.value)); setLists([]); }).catch(() => setLists([]));
  const form = h('form', { id: 'policy-form', class: 'policy-form', 'aria-labelledby': 'policy-form-h' },
    heading,
    h('div', { class: 'fld' }, h('label', { for: 'policy-name' }, 'Name'), name,
      h('p', { id: 'policy-name-help', class: 'muted small' }, 'Letters, digits, “-”, “_” and “.”. Saving under an existing UI policy’s name replaces it.')),
    h('fieldset', { class: 'fld' }, h('legend', {}, 'Lists (none ticked: every list)'), lists),
    h('div', { class: 'fld' }, h('label', { for: 'policy-older' }, 'Older than'), older,
      h('p', { id: 'policy-older-help', class: 'muted small' }, 'A number and y, m, w or d: 6y, 18m, 90d. A thread is due when its newest message is older.')),
    h('div', { class: 'fld' }, h('label', { for: 'policy-basis' }, 'Age by'), basis),
    h('div', { class: 'fld' }, h('label', { for: 'policy-query' }, 'Only threads matching (query)'), query),
    err,
    h('div', { class: 'form-row' }, save, cancel));
  const reset = () => {
    heading.textContent = 'New policy';
    name.readOnly = false;
    name.value = '';
    older.value = '6y';
    basis.value = 'date';
    query.value = '';
    setLists([]);
    cancel.hidden = true;
    err.hidden = true;
  };
  cancel.addEventListener('click', reset);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const n = name.value.trim();
    if (!n) { name.focus(); return; }
    save.disabled = true;
    try {
      await putPolicy(n, {
        lists: Array.from(lists.querySelectorAll('input:checked')).map((c) => c.value),
        older_than: older.value.trim(),
        age_basis: basis.value,
        query: query.value.trim() || null,
      });
      if (isCurrent(gen)) navigate('/review', { replace: true });
    } catch (e) {
      err.textContent = e.message; // the server names the problem (bad age, name, query)
      err.hidden = false;
    } finally {
      save.disabled = false;
    }
  });
  return {
    el: form,
    edit(p) {
      heading.textContent = `Edit policy ${p.name}`;
      name.value = p.name;
      name.readOnly = true;
      older.value = p.older_than;
      basis.value = p.age_basis === 'arrival' ? 'arrival' : 'date';
      query.value = p.query || '';
      setLists(Array.isArray(p.lists) ? p.lists : []);
      cancel.hidden = false;
      err.hidden = true;
      form.scrollIntoView({ block: 'start' });
      older.focus();
    },
  };
}

// --- /review/<name> ----------------------------------------------------------------------

export async function renderQueue(main, match, params, gen) {
  let name;
  try { name = decodeURIComponent(match[1]); } catch { name = match[1]; }
  name = name.replace(/\/+$/, '');
  document.title = `Review ${name} — gleaner`;
  main.replaceChildren(loading('Loading the queue…'));
  const filter = {};
  if (params.get('list')) filter.list = params.get('list');
  if (params.get('year')) filter.year = params.get('year');
  let first;
  let docs = [];
  try {
    [first, docs] = await Promise.all([
      getQueue(name, { ...filter, limit: String(PAGE), offset: '0' }),
      listDocs().then((d) => d.documents || []).catch(() => []),
    ]);
  } catch (e) {
    if (isCurrent(gen)) forbidden(main, e);
    return;
  }
  if (!isCurrent(gen)) return;
  const view = new QueueView(main, name, filter, docs, gen);
  view.start(first);
  setPageKeys((ev) => view.key(ev));
}

const LABEL = { promote: 'Promoted', keep: 'Kept', dismiss: 'Dismissed' };

class QueueView {
  constructor(main, name, filter, docs, gen) {
    Object.assign(this, { main, name, filter, docs, gen });
    this.items = [];          // undecided threads, in list order
    this.cur = 0;
    this.selected = new Set(); // thread ids
    this.batches = [];        // this page's decisions, newest last: {threads, items, positions, decision}
    this.chain = Promise.resolve();
    this.more = false;        // the server has undecided threads we have not loaded
    this.fetching = false;
    this.lis = new Map();     // thread id -> <li>
    this.previews = new Map(); // message id -> message (or error)
    this.citeChoice = new Map(); // thread id -> the message id the reviewer chose to cite
    this.seq = 0;
  }

  // ---- building the page

  start(data) {
    const p = data.policy || { name: this.name };
    this.progressEl = h('div', { id: 'queue-progress', class: 'queue-progress', dataset: { done: 0, total: 0 } });
    this.status = h('p', { id: 'review-status', class: 'review-status', role: 'status', 'aria-live': 'polite' });
    this.errorEl = h('div', { id: 'review-error', class: 'error-box', role: 'alert', hidden: true });
    this.breakdown = h('div', { class: 'breakdown', id: 'queue-breakdown' });
    this.list = h('ol', { id: 'queue-list', class: 'queue-list', role: 'listbox', tabindex: '0', 'aria-label': 'Undecided threads, best candidates first', 'aria-multiselectable': 'true' });
    this.listBox = h('div', { class: 'queue-col' }, this.list, this.listFoot = h('p', { class: 'queue-foot muted small', id: 'queue-foot' }));
    this.detail = h('div', { id: 'queue-detail', class: 'queue-detail', 'aria-live': 'off' });
    this.note = h('input', { id: 'review-note', type: 'text', autocomplete: 'off', placeholder: 'sent with the next decision', 'aria-keyshortcuts': 'n' });
    this.note.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' || ev.key === 'Escape') { ev.preventDefault(); this.list.focus({ preventScroll: true }); }
    });
    this.docSelect = h('select', { id: 'promote-doc' });
    this.fillDocSelect(this.docSelect, sessionStorage.getItem(PROMOTE_DOC) || '');
    this.docSelect.addEventListener('change', () => sessionStorage.setItem(PROMOTE_DOC, this.docSelect.value));
    this.docSelect.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' || ev.key === 'Enter') { ev.preventDefault(); this.list.focus({ preventScroll: true }); }
    });
    this.selInfo = h('span', { id: 'selection-info', class: 'sel-info', 'aria-live': 'polite' });
    const btn = (id, text, key, fn, cls) => h('button', { type: 'button', id, class: ['btn', cls], 'aria-keyshortcuts': key, onclick: fn },
      text, ' ', h('kbd', { 'aria-hidden': 'true' }, key));
    const actions = h('div', { class: 'queue-actions', role: 'toolbar', 'aria-label': 'Decide' },
      btn('btn-promote', 'Promote', 'p', () => this.decide('promote'), 'act-promote'),
      btn('btn-keep', 'Keep', 'r', () => this.decide('keep'), 'act-keep'),
      btn('btn-dismiss', 'Dismiss', 'd', () => this.decide('dismiss'), 'act-dismiss'),
      btn('btn-undo', 'Undo', 'u', () => this.undo()),
      btn('btn-select', 'Select', 'x', () => this.toggleSelect()),
      btn('btn-open', 'Open thread', 'o', () => this.open()),
      this.selInfo);
    this.keysHelp = keyHelp(() => this.toggleKeys(false));
    this.dialog = promoteDialog();
    const filterNote = this.filter.list || this.filter.year
      ? h('p', { class: 'notice filter-note', id: 'queue-filter' }, 'Showing only ',
        this.filter.list ? `list ${this.filter.list}` : '', this.filter.list && this.filter.year ? ' and ' : '',
        this.filter.year ? `threads last active in ${this.filter.year}` : '', ' · ', h('a', { href: queueHref(this.name) }, 'show all'))
      : null;
    const page = h('div', { id: 'review-queue', class: 'review-queue', dataset: { policy: this.name } },
      h('header', { class: 'queue-head' },
        h('p', { class: 'crumbs' }, h('a', { href: '/review' }, 'Review queues'), ' ›'),
        h('h1', {}, p.name || this.name),
        h('p', { class: 'muted policy-desc' }, describe(p), ' · ', h('button', { type: 'button', class: 'btn link', id: 'keys-btn', 'aria-expanded': 'false', 'aria-controls': 'review-keys', onclick: () => this.toggleKeys() }, 'keys (?)')),
        this.progressEl,
        h('details', { class: 'progress-details' }, h('summary', {}, 'Progress by list and by year'), this.breakdown)),
      this.keysHelp, filterNote, this.errorEl,
      h('div', { class: 'queue-layout' },
        this.listBox,
        h('section', { class: 'queue-side', 'aria-label': 'Current thread' },
          actions,
          h('div', { class: 'queue-opts' },
            h('label', { for: 'review-note' }, 'Note ', h('kbd', { 'aria-hidden': 'true' }, 'n')), this.note,
            h('label', { for: 'promote-doc' }, 'Promote cites into'), this.docSelect),
          this.status,
          this.detail)),
      this.dialog.el);
    this.list.addEventListener('click', (ev) => {
      const li = ev.target instanceof Element ? ev.target.closest('li.queue-item') : null;
      if (!li) return;
      const i = this.items.findIndex((it) => it.thread_id === li.dataset.threadId);
      if (i < 0) return;
      if (ev.target.closest('.qi-mark') || ev.ctrlKey || ev.metaKey) { this.cur = i; this.toggleSelect(); return; }
      this.move(i - this.cur);
    });
    this.absorb(data, 0);
    this.setProgress(data.progress);
    this.main.replaceChildren(page);
    this.renderList();
    this.list.focus({ preventScroll: true });
  }

  fillDocSelect(sel, value) {
    sel.replaceChildren(h('option', { value: 'none' }, 'no document'),
      ...this.docs.map((d) => h('option', { value: String(d.id) }, `${d.title} (${d.kind})`)));
    sel.value = this.docs.some((d) => String(d.id) === value) ? value : 'none';
  }

  /** Adds a page of items (skipping ones we have). */
  absorb(data, offset) {
    const have = new Set(this.items.map((i) => i.thread_id));
    const got = Array.isArray(data.items) ? data.items : [];
    if (typeof data.scale === 'string') this.scale = data.scale;
    let added = 0;
    for (const it of got) {
      if (it && it.thread_id && !have.has(it.thread_id)) { this.items.push(it); have.add(it.thread_id); added++; }
    }
    // Nothing new although the server counts more: stop asking (someone else is deciding too).
    this.more = added > 0 && offset + got.length < (Number(data.matching) || 0);
  }

  setProgress(p) {
    if (!p) return;
    this.progress = p;
    const done = Number(p.done) || 0;
    const total = Number(p.total) || 0;
    const el = this.progressEl;
    el.dataset.done = String(done);
    el.dataset.total = String(total);
    const pct = total ? Math.round((100 * done) / total) : 0;
    if (!this.progressBar) {
      // Built once so that the text stays one polite live region.
      this.progressBar = h('progress', { id: 'queue-progress-bar', 'aria-label': 'Threads decided' });
      this.progressText = h('p', { class: 'progress-text', 'aria-live': 'polite', 'aria-atomic': 'true' });
      el.replaceChildren(this.progressBar, this.progressText);
    }
    this.progressBar.max = Math.max(total, 1);
    this.progressBar.value = done;
    this.progressText.replaceChildren(
      h('strong', {}, `${fmtNum(done)} of ${fmtNum(total)} decided`), ` (${pct}%) · ${plural(Math.max(0, total - done), 'thread')} left · `,
      `${fmtNum(p.promote || 0)} promoted · ${fmtNum(p.keep || 0)} kept · ${fmtNum(p.dismiss || 0)} dismissed`);
    const group = (title, bars, key) => h('section', { class: 'bars' }, h('h2', {}, title),
      (Array.isArray(bars) ? bars : []).map((b) => bar(String(b.key), b.done || 0, b.total || 0,
        { href: queueHref(this.name, { [key]: b.key }), title: `Review only ${key} ${b.key}` })));
    this.breakdown.replaceChildren(group('By list', p.by_list, 'list'), group('By year of the last message', p.by_year, 'year'));
  }

  li(item) {
    let li = this.lis.get(item.thread_id);
    if (li) return li;
    const subject = item.subject && String(item.subject).trim() ? String(item.subject) : '(no subject)';
    li = h('li', { class: 'queue-item', id: `qi-${++this.seq}`, role: 'option', 'aria-selected': 'false', dataset: { threadId: item.thread_id } },
      h('span', { class: 'qi-mark', title: 'Select (x)', 'aria-hidden': 'true' }),
      h('span', { class: 'qi-subject' }, subject),
      h('span', { class: 'qi-meta' },
        h('span', { class: 'qi-list' }, String(item.list || '')),
        h('time', { class: 'qi-date', title: 'Last message' }, secsDay(item.last_date) || 'undated'),
        h('span', { class: 'qi-count' }, plural(Number(item.messages) || 0, 'msg'))),
      h('span', { class: 'qi-score', title: 'Harvest score' }, (Number(item.score) || 0).toFixed(1)));
    this.lis.set(item.thread_id, li);
    return li;
  }

  renderList() {
    const n = this.items.length;
    if (this.cur >= n) this.cur = Math.max(0, n - 1);
    this.list.replaceChildren(...this.items.map((it) => this.li(it)));
    for (const [id, li] of this.lis) if (!li.isConnected) this.lis.delete(id);
    this.markCurrent();
    this.listFoot.textContent = n ? (this.more ? `${plural(n, 'thread')} loaded; more follow as you go.` : '') : '';
    if (!n) {
      this.listBox.classList.add('empty');
      this.detail.replaceChildren(this.more || this.fetching
        ? loading('Loading more threads…')
        : !(this.progress && this.progress.total)
          ? h('div', { id: 'queue-empty', class: 'empty-state all-done' },
            h('p', { class: 'empty-title' }, 'Nothing to review.'),
            h('p', {}, 'No thread you may see matches this policy yet. ', h('a', { href: '/review' }, 'Back to the queues'), '.'))
          : h('div', { id: 'queue-done', class: 'empty-state all-done' },
          h('p', { class: 'empty-title' }, 'All done.'),
          h('p', {}, this.filter.list || this.filter.year ? 'Every thread shown by this filter has a decision. ' : 'Every thread in this queue has a decision. ',
            h('a', { href: '/review' }, 'Back to the queues'), '.')));
      this.list.setAttribute('aria-label', 'Undecided threads: none');
    } else {
      this.listBox.classList.remove('empty');
      this.list.setAttribute('aria-label', 'Undecided threads, best candidates first');
    }
    this.refill();
  }

  markCurrent() {
    const item = this.items[this.cur];
    for (const [id, li] of this.lis) {
      const on = item && id === item.thread_id;
      li.classList.toggle('current', on);
      if (on) li.setAttribute('aria-current', 'true'); else li.removeAttribute('aria-current');
      const sel = this.selected.has(id);
      li.classList.toggle('selected', sel);
      li.setAttribute('aria-selected', sel ? 'true' : 'false');
    }
    const n = this.selected.size;
    this.selInfo.textContent = n ? `${plural(n, 'thread')} selected: p, r, d apply to all` : '';
    if (!item) { this.list.removeAttribute('aria-activedescendant'); this.shown = null; return; }
    const li = this.lis.get(item.thread_id);
    this.list.setAttribute('aria-activedescendant', li.id);
    li.scrollIntoView({ block: 'nearest' });
    if (this.shown !== item.thread_id) this.showDetail(item);
  }

  move(delta) {
    if (!this.items.length) return;
    this.cur = Math.max(0, Math.min(this.items.length - 1, this.cur + delta));
    this.markCurrent();
    this.refill();
  }

  // ---- the current thread

  showDetail(item) {
    this.shown = item.thread_id;
    const subject = item.subject && String(item.subject).trim() ? String(item.subject) : '(no subject)';
    const explain = Array.isArray(item.explain) ? item.explain : [];
    const span = secsDay(item.first_date) === secsDay(item.last_date) ? secsDay(item.last_date) : `${secsDay(item.first_date)} – ${secsDay(item.last_date)}`;
    const preview = h('section', { class: 'preview', id: 'queue-preview', 'aria-label': 'First message' }, loading('Loading the first message…'));
    clear(this.detail);
    append(this.detail, [
      h('h2', { class: 'qd-subject', id: 'qd-subject' }, subject),
      h('p', { class: 'qd-meta muted' },
        [item.list, plural(Number(item.messages) || 0, 'message'), plural(Number(item.participants) || 0, 'participant'), span].filter(Boolean).join(' · '), ' · ',
        h('a', { href: threadHref(item.thread_id), id: 'qd-open' }, 'open thread (o)')),
      h('table', { class: 'explain', id: 'qd-explain' },
        h('caption', {}, `Score ${(Number(item.score) || 0).toFixed(2)}: why`),
        h('tbody', {}, explain.map((x) => h('tr', { dataset: { signal: x.signal || '' } },
          h('td', {}, String(x.why || x.signal || '')),
          h('td', { class: 'num' }, `${Number(x.points) >= 0 ? '+' : ''}${(Number(x.points) || 0).toFixed(2)}`))))),
      this.scale ? h('p', { class: 'small muted', id: 'qd-scale' }, this.scale) : null,
      item.similar_to ? h('p', { class: 'small' }, h('a', { href: threadHref(item.similar_to), id: 'qd-similar' }, 'Open the promoted thread it resembles')) : null,
      ...(Array.isArray(item.reviews) ? item.reviews : []).map((r) => h('p', { class: 'qd-review small' },
        h('strong', {}, `${LABEL[r.decision] || r.decision} in “${r.policy}” by ${r.by}`), r.note ? `: ${r.note}` : ' (no note)')),
      this.answerPane(item),
      preview]);
    clearTimeout(this.previewTimer);
    const mid = item.first_message_id;
    if (!mid) { preview.replaceChildren(h('p', { class: 'muted' }, 'No first message to show.')); return; }
    const cached = this.previews.get(mid);
    if (cached) { this.fillPreview(preview, cached); this.prefetch(); return; }
    // Wait a moment so holding j does not fire a request per thread passed.
    this.previewTimer = setTimeout(async () => {
      const msg = await this.fetchPreview(mid);
      if (preview.isConnected) this.fillPreview(preview, msg);
      this.prefetch();
    }, 90);
  }

  /** What a promotion cites: the proposed answer and why, and a choice of the thread's messages. */
  answerPane(item) {
    const a = item.answer;
    const chosen = this.citeChoice.get(item.thread_id) || item.answer_message_id || '';
    const label = (m) => `${m.subject || '(no subject)'} — ${splitAddress(m.from).name || m.from || '?'}, ${typeof m.date === 'number' ? secsDay(m.date) : String(m.date || '').slice(0, 10)}`;
    const select = h('select', { id: 'qd-cite', 'aria-label': 'Message the promotion cites' },
      a ? h('option', { value: a.message_id }, `${label(a)} (proposed)`) : h('option', { value: '' }, 'the proposed answer'));
    select.value = chosen;
    select.addEventListener('change', () => this.citeChoice.set(item.thread_id, select.value));
    select.addEventListener('keydown', (e) => e.stopPropagation());
    // The other messages of the thread, when the reviewer opens the choice.
    let loaded = false;
    const load = async () => {
      if (loaded) return;
      loaded = true;
      let t;
      try { t = await getThread(item.thread_id); } catch { return; }
      const flat = [];
      const walk = (ms) => { for (const m of ms || []) { flat.push(m); walk(m.children); } };
      walk(t.messages);
      flat.sort((x, y) => String(x.date).localeCompare(String(y.date)));
      const keep = select.value;
      select.replaceChildren(...flat.filter((m) => m.message_id).map((m) =>
        h('option', { value: m.message_id }, `${label(m)}${a && m.message_id === a.message_id ? ' (proposed)' : ''}`)));
      select.value = keep;
    };
    if (chosen && chosen !== (a && a.message_id)) load();
    select.addEventListener('focus', load);
    select.addEventListener('pointerdown', load);
    return h('div', { class: 'qd-answer small', id: 'qd-answer' },
      a ? h('p', {}, h('strong', {}, 'Cites: '), h('a', { href: messageHref({ message_id: a.message_id }), id: 'qd-answer-link' }, label(a)), h('span', { class: 'muted', id: 'qd-answer-why' }, ` — because ${a.why}`))
        : h('p', { class: 'muted' }, 'Cites the thread’s proposed answer.'),
      h('label', { for: 'qd-cite' }, 'Cite instead: '), select);
  }

  async fetchPreview(mid) {
    if (this.previews.has(mid)) return this.previews.get(mid);
    let msg;
    try { msg = await getMessage(mid); } catch (e) { msg = { error: e.message }; }
    if (this.previews.size > 200) this.previews.delete(this.previews.keys().next().value);
    this.previews.set(mid, msg);
    return msg;
  }

  prefetch() {
    const next = this.items[this.cur + 1];
    if (next && next.first_message_id && !this.previews.has(next.first_message_id) && isCurrent(this.gen)) this.fetchPreview(next.first_message_id);
  }

  fillPreview(box, msg) {
    if (msg.error) { box.replaceChildren(h('p', { class: 'form-error' }, `Could not load the first message: ${msg.error}`)); return; }
    const from = splitAddress(Array.isArray(msg.from) ? msg.from[0] : msg.from);
    box.replaceChildren(
      h('p', { class: 'preview-head' },
        h('strong', {}, from.name || '(unknown sender)'), ' · ', h('time', {}, fmtDateTime(msg.date)), ' · ',
        h('a', { href: messageHref(msg) }, 'message')));
    renderBodyParts(box, msg);
  }

  // ---- decisions

  targets() {
    if (this.selected.size) return this.items.filter((i) => this.selected.has(i.thread_id));
    const it = this.items[this.cur];
    return it ? [it] : [];
  }

  async decide(decision) {
    const targets = this.targets();
    if (!targets.length) return;
    let doc = null;
    if (decision === 'promote') {
      doc = await this.chooseDoc(targets.length);
      if (doc === undefined) return; // cancelled
      if (!isCurrent(this.gen)) return;
    }
    const note = this.note.value.trim();
    this.note.value = '';
    this.errorEl.hidden = true;
    const positions = targets.map((t) => this.items.indexOf(t));
    const first = Math.min(...positions);
    const batch = { threads: targets.map((t) => t.thread_id), items: targets, positions, decision };
    this.items = this.items.filter((i) => !batch.threads.includes(i.thread_id));
    for (const id of batch.threads) this.selected.delete(id);
    this.cur = Math.min(first, Math.max(0, this.items.length - 1));
    this.batches.push(batch);
    this.renderList();
    const what = targets.length === 1 ? `“${targets[0].subject || '(no subject)'}”` : plural(targets.length, 'thread');
    this.say(`${LABEL[decision]} ${what}.`);
    this.enqueue(async () => {
      if (doc) {
        // One request: the server promotes and cites (one thread: the
        // reviewer's chosen message; several: each thread's proposed answer),
        // and one undo removes the citations.
        const body = { threads: batch.threads, decision, note, cite_into: String(doc.id) };
        const mid = batch.threads.length === 1 ? this.citeChoice.get(batch.threads[0]) : null;
        if (mid) body.message_id = mid;
        const res = await postDecision(this.name, body);
        this.setProgress(res.progress);
        this.say(`${LABEL[decision]} ${what} and cited in “${doc.title}”.`);
        return;
      }
      const res = await postDecision(this.name, { threads: batch.threads, decision, note });
      this.setProgress(res.progress);
    }, () => {
      // Not recorded: put the threads (and the note) back where they were.
      const i = this.batches.indexOf(batch);
      if (i >= 0) { this.batches.splice(i, 1); this.reinsert(batch, false); }
      if (note && !this.note.value) this.note.value = note;
    });
  }

  /** Which document a promotion cites into: the remembered choice, or ask. undefined = cancelled. */
  async chooseDoc(n) {
    const remembered = sessionStorage.getItem(PROMOTE_DOC);
    let value = remembered;
    if (remembered === null) {
      value = await this.dialog.ask(this.docs, n);
      if (value === null) return undefined;
      if (this.dialog.remember()) sessionStorage.setItem(PROMOTE_DOC, value);
      this.fillDocSelect(this.docSelect, value);
    }
    return this.docs.find((d) => String(d.id) === value) || null;
  }

  undo() {
    const batch = this.batches.pop();
    if (batch) {
      this.reinsert(batch, true);
      this.say(`Undone: ${plural(batch.threads.length, 'thread')} back in the queue.`);
    }
    this.enqueue(async () => {
      let res;
      try { res = await postUndo(this.name); } catch (e) {
        if (e instanceof ApiError && e.status === 404) {
          if (batch) await this.reload(); // the server had nothing: show what it has
          else this.say('Nothing to undo.');
          return;
        }
        throw e;
      }
      this.setProgress(res.progress);
      const back = Array.isArray(res.threads) ? res.threads : [];
      const same = batch && back.length === batch.threads.length && back.every((t) => batch.threads.includes(t));
      if (!same) {
        // Undid something this page did not do (another tab, an earlier visit): reload.
        await this.reload(back[0]);
        this.say(`Undone: ${plural(back.length, 'thread')} back in the queue.`);
      }
    }, () => {
      // Not undone on the server: the threads leave the list again.
      if (!batch) return;
      this.items = this.items.filter((i) => !batch.threads.includes(i.thread_id));
      this.batches.push(batch);
      this.renderList();
    });
  }

  /** Puts a batch's threads back at the current place (undo) or where they were (failure). */
  reinsert(batch, atCurrent) {
    const have = new Set(this.items.map((i) => i.thread_id));
    const items = batch.items.filter((i) => !have.has(i.thread_id));
    if (!items.length) return;
    const at = atCurrent ? Math.min(this.cur, this.items.length) : Math.min(Math.min(...batch.positions), this.items.length);
    this.items.splice(at, 0, ...items);
    this.cur = at;
    this.renderList();
  }

  /** Runs server work one step after another; `undoLocal` runs when it fails. */
  enqueue(work, undoLocal) {
    this.chain = this.chain.then(async () => {
      try {
        await work();
      } catch (e) {
        if (undoLocal) undoLocal();
        this.fail(`Not saved: ${e.message}`);
      }
    });
    return this.chain;
  }

  fail(text) {
    if (!isCurrent(this.gen)) return;
    this.errorEl.replaceChildren(h('p', {}, text));
    this.errorEl.hidden = false;
  }

  /** Loads the list again from the start; `focus` (a thread id) becomes current. */
  async reload(focus) {
    const data = await getQueue(this.name, { ...this.filter, limit: String(PAGE), offset: '0' });
    if (!isCurrent(this.gen)) return;
    this.items = [];
    this.absorb(data, 0);
    this.batches = [];
    this.setProgress(data.progress);
    const i = focus ? this.items.findIndex((it) => it.thread_id === focus) : -1;
    this.cur = Math.max(0, i);
    this.renderList();
  }

  /** Fetches the next page when the reviewer gets near the end of what is loaded. */
  refill() {
    if (!this.more || this.fetching || this.items.length - this.cur > REFILL_AT) return;
    this.fetching = true;
    // After the decisions in flight, the server's first N undecided threads are ours.
    this.chain.then(async () => {
      try {
        const offset = this.items.length;
        const data = await getQueue(this.name, { ...this.filter, limit: String(PAGE), offset: String(offset) });
        if (!isCurrent(this.gen)) return;
        this.absorb(data, offset);
        this.setProgress(data.progress);
      } catch (e) {
        this.more = false;
        this.fail(`Could not load more threads: ${e.message}`);
      } finally {
        this.fetching = false;
      }
      if (isCurrent(this.gen)) this.renderList();
    });
  }

  toggleSelect() {
    const it = this.items[this.cur];
    if (!it) return;
    if (this.selected.has(it.thread_id)) this.selected.delete(it.thread_id); else this.selected.add(it.thread_id);
    this.markCurrent();
  }

  open() {
    const it = this.items[this.cur];
    if (it) navigate(threadHref(it.thread_id));
  }

  toggleKeys(force) {
    const open = force === undefined ? this.keysHelp.hidden : force;
    this.keysHelp.hidden = !open;
    this.main.querySelector('#keys-btn')?.setAttribute('aria-expanded', String(open));
  }

  say(text) { this.status.textContent = text; }

  /** The page's keys (keys.js calls this outside text fields). */
  key(ev) {
    if (this.dialog.el.open) return false;
    switch (ev.key) {
      case 'j': this.move(1); return true;
      case 'k': this.move(-1); return true;
      case 'ArrowDown': if (ev.target !== this.list) return false; this.move(1); return true;
      case 'ArrowUp': if (ev.target !== this.list) return false; this.move(-1); return true;
      case 'Home': if (ev.target !== this.list) return false; this.move(-this.cur); return true;
      case 'End': if (ev.target !== this.list) return false; this.move(this.items.length); return true;
      case 'p': this.decide('promote'); return true;
      case 'r': this.decide('keep'); return true;
      case 'd': this.decide('dismiss'); return true;
      case 'u': this.undo(); return true;
      case 'x': case ' ': if (ev.key === ' ' && ev.target !== this.list) return false; this.toggleSelect(); return true;
      case 'n': this.note.focus(); return true;
      case 'o': this.open(); return true;
      case 'Enter': if (ev.target !== this.list) return false; this.open(); return true;
      case '?': this.toggleKeys(); return true;
      case 'Escape':
        if (!this.keysHelp.hidden) { this.toggleKeys(false); return true; }
        if (this.selected.size) { this.selected.clear(); this.markCurrent(); return true; }
        return false;
      default: return false;
    }
  }
}

const KEYS = [
  ['j / k', 'next / previous thread'],
  ['p', 'promote (and cite into the chosen document)'],
  ['r', 'keep (relevant)'],
  ['d', 'dismiss'],
  ['u', 'undo the last decision'],
  ['x', 'select or unselect; p, r, d then apply to all selected'],
  ['n', 'write a note for the next decision (Enter returns)'],
  ['o', 'open the thread'],
  ['Esc', 'clear the selection'],
  ['?', 'this help'],
];

function keyHelp(close) {
  return h('section', { id: 'review-keys', class: 'keys-help', role: 'dialog', 'aria-labelledby': 'review-keys-h', hidden: true },
    h('div', { class: 'help-head' },
      h('h2', { id: 'review-keys-h' }, 'Review keys'),
      h('button', { type: 'button', class: 'btn icon', 'aria-label': 'Close key help', onclick: close }, '×')),
    h('table', { class: 'help-table' }, h('tbody', {}, KEYS.map(([k, what]) => h('tr', {}, h('td', {}, h('kbd', {}, k)), h('td', {}, what))))),
    h('p', { class: 'help-note' }, 'Keys do nothing while you type in a field. Mouse: click a thread to make it current, its box to select it.'));
}

/** The "cite the promoted thread into…" question, asked once per browser session. */
function promoteDialog() {
  const select = h('select', { id: 'promote-dialog-doc' });
  const remember = h('input', { type: 'checkbox', id: 'promote-remember', checked: true });
  const ok = h('button', { type: 'submit', class: 'btn primary', id: 'promote-confirm', value: 'ok' }, 'Promote');
  const cancel = h('button', { type: 'button', class: 'btn', id: 'promote-cancel' }, 'Cancel');
  const title = h('h2', { id: 'promote-dialog-h' }, 'Promote');
  const form = h('form', { method: 'dialog' },
    title,
    h('div', { class: 'fld' }, h('label', { for: 'promote-dialog-doc' }, 'Cite the thread’s answer in'), select),
    h('label', { class: 'check' }, remember, ' Use this for every promotion in this session (change it beside the queue)'),
    h('div', { class: 'form-row' }, ok, cancel));
  const el = h('dialog', { id: 'promote-dialog', class: 'dialog', 'aria-labelledby': 'promote-dialog-h' }, form);
  let resolve = null;
  const finish = (v) => { if (resolve) { const r = resolve; resolve = null; r(v); } };
  form.addEventListener('submit', () => finish(select.value));
  cancel.addEventListener('click', () => { el.close(); finish(null); });
  el.addEventListener('cancel', () => finish(null));
  el.addEventListener('close', () => finish(null));
  el.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !(ev.target instanceof HTMLButtonElement)) { ev.preventDefault(); finish(select.value); el.close(); }
  });
  return {
    el,
    remember: () => remember.checked,
    ask(docs, n) {
      title.textContent = n === 1 ? 'Promote this thread' : `Promote ${n} threads`;
      select.replaceChildren(h('option', { value: 'none' }, 'no document (just promote)'),
        ...docs.map((d) => h('option', { value: String(d.id) }, `${d.title} (${d.kind}, ${d.status})`)));
      if (!docs.length) select.appendChild(h('option', { value: 'none', disabled: true }, '(no documents yet: editors create them under Documents)'));
      return new Promise((r) => { resolve = r; el.showModal(); select.focus(); });
    },
  };
}
