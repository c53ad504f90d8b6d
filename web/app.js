// gleaner web UI: boot, header, routes. No framework, no build step.
import { route, start, navigate, onRender } from './js/router.js';
import { getMe, logout, setCsrfToken, ApiError } from './js/api.js';
import { searchHref } from './js/dom.js';
import { renderSearch, readParams } from './js/search.js';
import { renderHome } from './js/home.js';
import { renderMessage } from './js/message.js';
import { renderThread } from './js/thread.js';
import { renderStatus } from './js/stats.js';
import { installKeys } from './js/keys.js';
import { installCompletion } from './js/complete.js';
import { installHelp } from './js/help.js';

const $ = (id) => document.getElementById(id);

route(/^\/$/, renderHome);
route(/^\/search\/?$/, renderSearch);
route(/^\/m\/(.+)$/, renderMessage);
route(/^\/t\/(.+)$/, renderThread);

// Keep the search box and sort select in step with the URL.
onRender((path) => {
  const { q, sort } = path.startsWith('/search') ? readParams(new URLSearchParams(location.search)) : { q: null, sort: null };
  if (q !== null) $('q').value = q;
  else if (path === '/') $('q').value = '';
  if (sort !== null) $('sort').value = sort;
  document.body.dataset.view = path === '/' ? 'home' : path.startsWith('/search') ? 'search' : path.startsWith('/m/') ? 'message' : path.startsWith('/t/') ? 'thread' : 'other';
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
    if (me.user) {
      $('user-name').textContent = me.role ? `${me.user} (${me.role})` : String(me.user);
      $('user').hidden = false;
    }
  }
  $('logout-btn').addEventListener('click', async () => {
    try { await logout(); } catch { /* the session is gone either way */ }
    location.assign('/login');
  });

  $('search-form').addEventListener('submit', (ev) => { ev.preventDefault(); submitSearch(); });
  $('sort').addEventListener('change', () => { if ($('q').value.trim()) submitSearch(); });

  const help = installHelp({ button: $('help-btn'), panel: $('help'), closeBtn: $('help-close'), rows: $('help-rows'), input: $('q') });
  installKeys({ toggleHelp: help.toggle });
  installCompletion($('q'), $('complete'));
  renderStatus();
  await start();
}

boot();
