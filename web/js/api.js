// JSON API client. Every call goes to this origin (CSP connect-src 'self').

export class ApiError extends Error {
  constructor(status, body, message) {
    super(message || (body && typeof body.error === 'string' ? body.error : `HTTP ${status}`));
    this.status = status;
    this.body = body || {};
    this.position = body && Number.isInteger(body.position) ? body.position : null;
  }
}

let csrfToken = null;
export const setCsrfToken = (t) => { csrfToken = typeof t === 'string' ? t : null; };
export const getCsrfToken = () => csrfToken;

// Where the login page sends the user back to: a path on this origin only. The URL parser
// decides (it strips tabs and newlines and reads `/\\host` and `//host` as
// other hosts, as the browser will); the result is rebuilt from its path, so
// what is returned always starts with exactly one '/'.
export function safeNext(next, origin = location.origin) {
  if (typeof next !== 'string' || !next.startsWith('/')) return '/';
  let url;
  try {
    url = new URL(next, origin);
  } catch {
    return '/';
  }
  if (url.origin !== origin) return '/';
  const path = url.pathname + url.search + url.hash;
  if (!path.startsWith('/') || path.startsWith('//') || path.startsWith('/\\')) return '/';
  if (url.pathname.startsWith('/login') || url.pathname.startsWith('/api/')) return '/';
  return path;
}

export function redirectToLogin() {
  const next = location.pathname + location.search + location.hash;
  location.assign('/login?next=' + encodeURIComponent(safeNext(next)));
}

async function readBody(res) {
  const type = res.headers.get('content-type') || '';
  if (type.includes('json')) {
    try { return await res.json(); } catch { return null; }
  }
  try {
    const t = await res.text();
    return t ? { error: t.slice(0, 500) } : null;
  } catch { return null; }
}

/**
 * Fetch JSON. Throws ApiError on non-2xx; on 401 redirects to the login page
 * (unless opts.noRedirect) and throws. opts.signal aborts.
 */
export async function api(path, opts = {}) {
  const method = opts.method || 'GET';
  const headers = { Accept: 'application/json' };
  let body;
  if (opts.json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.json);
  }
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;
  let res;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: opts.signal, cache: 'no-store' });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, null, 'Cannot reach the gleaner server. Is it running?');
  }
  const data = await readBody(res);
  if (res.status === 401 && !opts.noRedirect) {
    redirectToLogin();
    throw new ApiError(401, data, 'login required');
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

const enc = encodeURIComponent;

export function search({ q, sort = 'relevance', offset = 0, limit = 20, group = 'message' }, signal) {
  const p = new URLSearchParams({ q, limit: String(limit), offset: String(offset), sort, group });
  return api('/api/search?' + p.toString(), { signal });
}
export const getHome = (signal) => api('/api/home', { signal });
export const completeFrom = (prefix, signal) => api('/api/complete?' + new URLSearchParams({ field: 'from', prefix }).toString(), { signal });
export const getMessage = (id, signal) => api('/api/messages/' + enc(id), { signal });
/** A message with its surroundings: `params` may carry q, sort, at (see docs/API.md) and outline=0. */
export const getMessageWith = (id, params, signal) => {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  const s = qs.toString();
  return api('/api/messages/' + enc(id) + (s ? '?' + s : ''), { signal });
};
export const rawHref = (id) => '/api/messages/' + enc(id) + '/raw';
export const getThread = (id, signal) => api('/api/threads/' + enc(id), { signal });
/** A thread whose messages say whether search `q` matches them (`matched`). */
export const getThreadFor = (id, q, signal) => api('/api/threads/' + enc(id) + (q ? '?q=' + encodeURIComponent(q) : ''), { signal });
export const exportHref = (q) => '/api/export.mbox?' + new URLSearchParams({ q }).toString();
export const getStats = () => api('/api/stats');
export const getReplicaStatus = () => api('/api/replica/status');
export const getMe = (opts = {}) => api('/api/me', opts);
export const logout = () => api('/api/logout', { method: 'POST', json: {} });
export const login = (username, password) => api('/api/login', { method: 'POST', json: { username, password }, noRedirect: true });
