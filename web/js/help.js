// The query-syntax popover behind the "?" button.
import { h } from './dom.js';

const ROWS = [
  ['disk full', 'both words (AND), any order; stemmed, case- and accent-insensitive'],
  ['"root cause"', 'the exact phrase'],
  ['outage OR downtime', 'either word (OR binds looser than AND)'],
  ['-backup', 'without this word (also NOT backup)'],
  ['(disk OR raid) failure', 'grouping'],
  ['from:smith', 'sender name or address (also to: cc:)'],
  ['subject:upgrade', 'subject only (short: s:upgrade)'],
  ['body:kernel', 'message text only'],
  ['list:ops', 'a list (its List-Id or a dotted part of it)'],
  ['id:abc@example.org', 'one Message-ID'],
  ['thread:abc@example.org', 'every message of a thread'],
  ['filename:report.pdf', 'attachment file name'],
  ['lang:de', 'detected language'],
  ['has:attachment', 'messages with attachments'],
  ['larger:100k', 'size (also smaller:1M)'],
  ['after:2019-03-01', 'on or after a date (UTC)'],
  ['before:2020', 'before a date'],
  ['date:2018..2019-06', 'a date range, whole periods included'],
  ['older:6y', 'older than (y, m, w, d, h)'],
  ['newer:30d', 'newer than'],
  ['upgrad*', 'prefix'],
  ['is:cited', 'cited in a curated document (cited:<doc> for one)'],
  ['is:archived', 'copied into a sealed archive volume'],
  ['is:held', 'under an active legal hold', 'admin'],
];

/** The popover; rows marked for a role (`is:held`: admins) only for `canSee(role)`. */
export function installHelp({ button, panel, closeBtn, rows, input, canSee = () => true }) {
  for (const [ex, what, role] of ROWS) {
    if (role && !canSee(role)) continue;
    const code = h('button', { type: 'button', class: 'help-ex', title: 'Add to the query' }, h('code', {}, ex));
    code.addEventListener('click', () => {
      const v = input.value.trim();
      input.value = v ? `${v} ${ex}` : ex;
      close();
      input.focus();
      input.setSelectionRange(input.value.length, input.value.length);
    });
    rows.appendChild(h('tr', {}, h('td', {}, code), h('td', {}, what)));
  }
  const isOpen = () => !panel.hidden;
  function open() {
    panel.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    closeBtn.focus();
  }
  function close() {
    if (!isOpen()) return;
    panel.hidden = true;
    button.setAttribute('aria-expanded', 'false');
  }
  const toggle = () => (isOpen() ? close() : open());
  button.addEventListener('click', toggle);
  closeBtn.addEventListener('click', () => { close(); button.focus(); });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && isOpen()) { close(); button.focus(); }
  });
  document.addEventListener('mousedown', (ev) => {
    if (isOpen() && !panel.contains(ev.target) && !button.contains(ev.target)) close();
  });
  return { toggle, close };
}
