// gleaner web UI: boot, header, routes. No framework, no build step.
import { route, start, navigate, onRender } from './js/router.js';
import { getMe, logout, setCsrfToken, ApiError } from './js/api.js';
import { searchHref } from './js/dom.js';
import { renderSearch, readParams } from './js/search.js';
import { renderHome } from './js/home.js';
import { renderMessage } from './js/message.js';
import { renderThread } from './js/thread.js';
import { renderStatus } from './js/stats.js';
import { installKeys, setPageKeys } from './js/keys.js';
import { renderReviewHome, renderQueue } from './js/review.js';
import { renderDocs, renderDoc, roleAtLeast } from './js/docs.js';
import { installCompletion } from './js/complete.js';
import { installHelp } from './js/help.js';

const $ = (id) => document.getElementById(id);

route(/^\/$/, renderHome);
route(/^\/search\/?$/, renderSearch);
route(/^\/m\/(.+)$/, renderMessage);
route(/^\/t\/(.+)$/, renderThread);
route(/^\/review\/?$/, renderReviewHome);
route(/^\/review\/(.+)$/, renderQueue);
route(/^\/docs\/?$/, renderDocs);
route(/^\/docs\/(.+)$/, renderDoc);

function viewName(path) {
  if (path === '/') return 'home';
  for (const [prefix, name] of [['/search', 'search'], ['/m/', 'message'], ['/t/', 'thread'], ['/review/', 'queue'], ['/review', 'review'], ['/docs', 'docs']]) {
    if (path.startsWith(prefix)) return name;
  }
  return 'other';
}

/** Marks the header link of the section being shown. */
function markNav(path) {
  const section = path.startsWith('/review') ? 'review' : path.startsWith('/docs') ? 'docs' : 'search';
  for (const a of document.querySelectorAll('#nav a[data-section]')) {
    if (a.dataset.section === section) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

// Keep the search box and sort select in step with the URL.
onRender((path) => {
  const { q, sort } = path.startsWith('/search') ? readParams(new URLSearchParams(location.search)) : { q: null, sort: null };
  if (q !== null) $('q').value = q;
  else if (path === '/') $('q').value = '';
  if (sort !== null) $('sort').value = sort;
  document.body.dataset.view = viewName(path);
  markNav(path);
  setPageKeys(null); // a page with keys of its own installs them again
});

function submitSearch() {
  const q = $('q').value.trim();
  if (!q) { navigate('/'); return; }
  navigate(searchHref(q, $('sort').value, 0));
}

async function boot() {
  let me;
  try {
    me = await getMe();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // redirected to /login
    me = null; // server trouble: the views will show it
  }
  if (me) {
    setCsrfToken(me.csrf_token);
    document.body.dataset.role = ['reader', 'reviewer', 'editor', 'admin'].includes(me.role) ? me.role : 'reader';
    if (me.user) {
      $('user-name').textContent = me.role ? `${me.user} (${me.role})` : String(me.user);
      $('user').hidden = false;
    }
  }
  $('nav-review').hidden = !roleAtLeast('reviewer');
  $('logout-btn').addEventListener('click', async () => {
    try { await logout(); } catch { /* the session is gone either way */ }
    location.assign('/login');
  });

  $('search-form').addEventListener('submit', (ev) => { ev.preventDefault(); submitSearch(); });
  $('sort').addEventListener('change', () => { if ($('q').value.trim()) submitSearch(); });

  const help = installHelp({ button: $('help-btn'), panel: $('help'), closeBtn: $('help-close'), rows: $('help-rows'), input: $('q'), canSee: roleAtLeast });
  installKeys({ toggleHelp: help.toggle });
  installCompletion($('q'), $('complete'));
  renderStatus();
  await start();
}

boot();
