// /api/stats, fetched once per page load and shared (status line, home page, completion).
import { getStats, getReplicaStatus } from './api.js';
import { h, clear, fmtNum, plural, fmtDay, fmtDateTime, fmtBytes } from './dom.js';

let promise = null;
export function loadStats(refresh = false) {
  if (!promise || refresh) promise = getStats().catch((e) => { promise = null; throw e; });
  return promise;
}

/** Fill the footer's #status from the stats. */
export async function renderStatus() {
  const el = document.getElementById('status');
  if (!el) return;
  let s;
  try { s = await loadStats(); } catch (e) {
    if (e && e.status === 401) return;
    el.textContent = 'Index status unavailable.';
    el.classList.add('warn');
    return;
  }
  clear(el);
  el.classList.remove('warn');
  const lists = Array.isArray(s.lists) ? s.lists.length : 0;
  const parts = [
    h('span', { id: 'status-count' }, plural(Number(s.messages) || 0, 'message')),
    h('span', {}, plural(lists, 'list')),
  ];
  if (s.first_date || s.last_date) parts.push(h('span', {}, `${fmtDay(s.first_date)} – ${fmtDay(s.last_date)}`));
  if (s.index_bytes) parts.push(h('span', {}, `index ${fmtBytes(s.index_bytes)}`));
  const lost = Number(s.authors && s.authors.not_recovered) || 0;
  if (lost) parts.push(h('span', { id: 'status-authors', title: 'Messages whose From a list rewrote (“X via List”) without naming the author elsewhere: the list stays their sender' }, `${plural(lost, 'author')} not recovered`));
  const w = s.watermark || {};
  const searchable = w.messages != null ? `, ${plural(Number(w.messages), 'message')}` : '';
  if (w.indexed_through) parts.push(h('span', { id: 'status-watermark', title: 'Everything received up to this time is searchable' }, `indexed through ${fmtDateTime(w.indexed_through)}${searchable}`));
  else if ('indexed_through' in w) parts.push(h('span', { id: 'status-watermark' }, `nothing indexed yet${searchable}`));
  if (w.catching_up) parts.push(h('span', { id: 'status-progress', class: 'pending' }, `catching up: ${fmtNum(Number(w.pending) || 0)} new read, not yet searchable`));
  else if (Number(w.pending) > 0) parts.push(h('span', { class: 'pending' }, `${fmtNum(w.pending)} pending`));
  const failing = (Array.isArray(w.sources) ? w.sources : []).filter((x) => x && x.last_error);
  if (failing.length) {
    parts.push(h('span', { class: 'source-errors', title: failing.map((x) => `${x.path}: ${x.last_error}`).join('\n') },
      `⚠ ${plural(failing.length, 'source')} failing`));
  }
  const standby = await standbyPart();
  if (standby) parts.unshift(standby);
  parts.forEach((p, i) => {
    if (i) el.appendChild(h('span', { class: 'sep', 'aria-hidden': 'true' }, ' · '));
    el.appendChild(p);
  });
}

/** On a standby: "read-only standby, N s behind its primary" (null on a primary). */
async function standbyPart() {
  let r;
  try { r = await getReplicaStatus(); } catch { return null; }
  if (!r || r.role !== 'standby') return null;
  const lag = Number(r.lag_seconds);
  const behind = Number.isFinite(lag) ? `${Math.round(lag)} s behind its primary` : 'not yet in step with its primary';
  const err = r.progress && r.progress.last_error;
  return h('span', { id: 'status-standby', class: err || !(lag < 60) ? 'pending' : '',
    title: `Changes are made on the primary (${r.primary}); this server answers searches only.${err ? '\nLast failure: ' + err : ''}` },
    `read-only standby, ${behind}`);
}
