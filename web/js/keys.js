// Keyboard: "/" focuses search, j/k move the selection, Enter opens it,
// Esc leaves the search box, "?" toggles the syntax help. A page with keys
// of its own (the review queue) installs a handler that is asked first.
import { navigate } from './router.js';

let selected = -1;
let pageKeys = null;

/**
 * Installs (or with null removes) the current page's key handler. It gets
 * each unmodified keydown outside text fields first; returning true means
 * "handled". The app removes it on every navigation.
 */
export function setPageKeys(handler) { pageKeys = typeof handler === 'function' ? handler : null; }

const items = () => Array.from(document.querySelectorAll('#results .hit, #thread .tmsg'));

export function resetSelection() { selected = -1; }

/** Is the key going into a text field (where letters must not be shortcuts)? */
export function isTyping(t) {
  if (!(t instanceof Element)) return false;
  if (t.isContentEditable) return true;
  const tag = t.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') return !['button', 'submit', 'checkbox', 'radio', 'reset'].includes(t.type);
  return false;
}

function select(i) {
  const list = items();
  if (!list.length) return;
  i = Math.max(0, Math.min(list.length - 1, i));
  for (const el of list) { el.classList.remove('selected'); el.removeAttribute('aria-current'); }
  const el = list[i];
  el.classList.add('selected');
  el.setAttribute('aria-current', 'true');
  el.scrollIntoView({ block: 'nearest' });
  selected = i;
}

function openSelected() {
  const el = items()[selected];
  if (!el) return false;
  const a = el.querySelector('a.hit-link');
  if (!a) return false;
  navigate(a.getAttribute('href'));
  return true;
}

export function installKeys({ toggleHelp }) {
  document.addEventListener('keydown', (ev) => {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || ev.isComposing) return;
    const q = document.getElementById('q');
    if (ev.key === 'Escape' && ev.target === q) {
      ev.preventDefault(); // a search input would otherwise clear itself
      q.blur();
      return;
    }
    if (isTyping(ev.target)) return;
    if (pageKeys && pageKeys(ev)) { ev.preventDefault(); return; }
    switch (ev.key) {
      case '/':
        ev.preventDefault();
        q.focus();
        q.select();
        break;
      case 'j': select(selected + 1); break;
      case 'k': select(selected < 0 ? 0 : selected - 1); break;
      case 'Enter':
        // Let Enter on a focused link/button do its own thing.
        if (ev.target instanceof Element && ev.target.closest('a, button, summary')) return;
        if (selected >= 0 && openSelected()) ev.preventDefault();
        break;
      case '?': ev.preventDefault(); toggleHelp(); break;
      default:
    }
  });
}
