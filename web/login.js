// Login page: POST /api/login, then back to where the user was going.
import { login, getMe, safeNext, setCsrfToken, ApiError } from './js/api.js';

const form = document.getElementById('login-form');
const errBox = document.getElementById('login-error');
const submit = document.getElementById('login-submit');
const next = safeNext(new URLSearchParams(location.search).get('next') || '/');

function showError(msg) {
  errBox.textContent = msg;
  errBox.hidden = false;
}

// Already logged in (or auth is off)? Go straight on.
getMe({ noRedirect: true }).then((me) => {
  if (me && me.user !== undefined) location.replace(next);
}).catch((e) => {
  if (e instanceof ApiError && e.body && typeof e.body.csrf_token === 'string') setCsrfToken(e.body.csrf_token);
});


form.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  errBox.hidden = true;
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    showError('Enter your user name and password.');
    (username ? form.password : form.username).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = 'Logging in…';
  try {
    await login(username, password);
    location.replace(next);
  } catch (e) {
    showError(e instanceof ApiError && e.status === 401 ? 'Wrong user name or password.' : (e && e.message) || 'Login failed.');
    form.password.value = '';
    form.password.focus();
  } finally {
    submit.disabled = false;
    submit.textContent = 'Log in';
  }
});
