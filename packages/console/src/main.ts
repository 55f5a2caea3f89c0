// The console's shell: the login form until there is a session, then the pages (hash routes, so
// the server serves one index.html). Everything shown comes from the admin API (./api.ts).
import { html, render } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { api, ApiError, errorText, whenSignedOut } from './api.ts';
import { LivePage } from './live.ts';
import { FailedPage } from './failed.ts';
import { SourcesPage } from './sources.ts';
import { PlansPage } from './plans.ts';
import { HealthPage } from './health.ts';

const PAGES = [
  { id: 'live', title: 'Live', view: LivePage },
  { id: 'failed', title: 'Failed', view: FailedPage },
  { id: 'sources', title: 'Sources', view: SourcesPage },
  { id: 'plans', title: 'Plans', view: PlansPage },
  { id: 'health', title: 'Health', view: HealthPage },
] as const;

const pageFromHash = (): string => {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.some((p) => p.id === id) ? id : 'live';
};

function Login({ onIn }: { onIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await api('POST', '/api/session', { token });
      setToken('');
      onIn();
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That is not the admin token.' : errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="login" onSubmit=${submit}>
    <h1>Inlet console</h1>
    <label>Admin token
      <input type="password" name="token" autocomplete="current-password" value=${token} onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} autofocus />
    </label>
    <button type="submit" disabled=${busy || token === ''}>Sign in</button>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <p class="hint">The admin token was printed by the server's first start; <code>inlet admin token --rotate</code> makes a new one.</p>
  </form>`;
}

function App() {
  const [state, setState] = useState<'checking' | 'out' | 'in'>('checking');
  const [page, setPage] = useState(pageFromHash());
  const [signOutError, setSignOutError] = useState('');
  useEffect(() => {
    whenSignedOut(() => setState('out'));
    api('GET', '/api/session').then(() => setState('in'), () => setState('out'));
    const onHash = () => setPage(pageFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  if (state === 'checking') return html`<p class="muted">Loading…</p>`;
  if (state === 'out') return html`<${Login} onIn=${() => setState('in')} />`;
  const current = PAGES.find((p) => p.id === page) ?? PAGES[0];
  const signOut = async () => {
    setSignOutError('');
    try {
      await api('DELETE', '/api/session');
      setState('out');
    } catch (err) {
      // A 401: the session had ended already. Otherwise the server could not record the sign-out (its
      // database is unreachable): the session goes on, so say so, and the button can be tried again.
      if (err instanceof ApiError && err.status === 401) setState('out');
      else setSignOutError(`Not signed out: ${errorText(err)}`);
    }
  };
  return html`<div class="shell">
    <nav>
      <strong>Inlet</strong>
      ${PAGES.map((p) => html`<a href=${`#/${p.id}`} class=${p.id === current.id ? 'active' : ''}>${p.title}</a>`)}
      <button class="link" onClick=${signOut}>Sign out</button>
    </nav>
    <main>${signOutError && html`<p class="error" role="alert">${signOutError}</p>`}<${current.view} /></main>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app')!);
