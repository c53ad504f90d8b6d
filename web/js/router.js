// History-based router: the URL is the state. Views register here; links
// inside the app are intercepted so navigation never reloads the page.

const routes = [];
let generation = 0;
let renderHook = () => {};

export function route(re, view) { routes.push([re, view]); }
export function onRender(fn) { renderHook = fn; }

/** A token that goes stale when the next navigation starts (check after every await). */
export function currentGeneration() { return generation; }
export function isCurrent(gen) { return gen === generation; }

export function navigate(href, { replace = false } = {}) {
  const url = new URL(href, location.href);
  if (url.origin !== location.origin) { location.assign(url.href); return; }
  const target = url.pathname + url.search + url.hash;
  if (replace) history.replaceState({ scroll: 0 }, '', target);
  else {
    history.replaceState({ ...(history.state || {}), scroll: window.scrollY }, '', location.href);
    history.pushState({ scroll: 0 }, '', target);
  }
  render({ scroll: 0 });
}

export async function render({ scroll = null } = {}) {
  const gen = ++generation;
  const main = document.getElementById('main');
  const path = location.pathname;
  let match = null;
  let view = null;
  for (const [re, v] of routes) {
    match = re.exec(path);
    if (match) { view = v; break; }
  }
  renderHook(path);
  if (!view) {
    main.replaceChildren();
    const p = document.createElement('p');
    p.className = 'notice';
    p.textContent = 'There is no page at this address.';
    main.appendChild(p);
    return;
  }
  // A new page starts at the top; back/forward restores where the reader was
  // once the view has rendered.
  if (scroll === 0) window.scrollTo(0, 0);
  try {
    await view(main, match, new URLSearchParams(location.search), gen);
  } finally {
    if (isCurrent(gen) && scroll) window.scrollTo(0, scroll);
  }
}

function isAppLink(a, ev) {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return false;
  if (a.hasAttribute('download') || (a.target && a.target !== '_self')) return false;
  const href = a.getAttribute('href');
  if (!href || href.startsWith('#')) return false;
  let url;
  try { url = new URL(a.href); } catch { return false; }
  if (url.origin !== location.origin) return false;
  if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/login')) return false;
  return true;
}

export function start() {
  if ('scrollRestoration' in history) history.scrollRestoration = 'manual';
  document.addEventListener('click', (ev) => {
    const a = ev.target instanceof Element ? ev.target.closest('a[href]') : null;
    if (!a || !isAppLink(a, ev)) return;
    ev.preventDefault();
    navigate(a.href);
  });
  window.addEventListener('popstate', (ev) => {
    render({ scroll: (ev.state && Number.isFinite(ev.state.scroll)) ? ev.state.scroll : 0 });
  });
  return render({ scroll: null });
}
