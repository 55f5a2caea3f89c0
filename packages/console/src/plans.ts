// Plans: a source's tracking plan and its versions; check a new version against the last week's
// events (a dry run), upload it, or infer one from the events stored.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, errorText, listSources, type Source } from './api.ts';

interface Violations { names: { name: string; flagged: number; blocked: number }[]; truncated: boolean }
interface Version { version: number; createdAt: string; deleted: boolean; summary?: { unplanned: string; violations: string; events: number; bytes: number }; plan?: unknown }

const names = (n: number) => `${n} event name${n === 1 ? '' : 's'}`;

export function PlansPage() {
  const [sources, setSources] = useState<Source[]>([]);
  const [sourceId, setSourceId] = useState('');
  const [current, setCurrent] = useState<Version | null | undefined>();
  const [versions, setVersions] = useState<Version[]>([]);
  const [violations, setViolations] = useState<Violations | undefined>();
  const [text, setText] = useState('');
  const [message, setMessage] = useState('');
  const [error, setError] = useState('');

  useEffect(() => { listSources().then((list) => { setSources(list); if (list[0]) setSourceId(list[0].id); }, (e) => setError(errorText(e))); }, []);
  const base = () => `/api/sources/${encodeURIComponent(sourceId)}/plan`;
  const load = async () => {
    if (!sourceId) return;
    setError('');
    try {
      setVersions((await api<{ versions: Version[] }>('GET', `${base()}/history`)).versions);
      api<Violations>('GET', `${base()}/violations?since=1h`).then(setViolations, () => setViolations(undefined));
      try {
        const { plan } = await api<{ plan: Version }>('GET', base());
        setCurrent(plan);
        setText(JSON.stringify(plan.plan, null, 2));
      } catch (err) {
        if (err instanceof ApiError && err.status === 404) { setCurrent(null); setText(''); } else throw err;
      }
    } catch (err) { setError(errorText(err)); }
  };
  useEffect(() => { setMessage(''); load(); }, [sourceId]);

  const check = async () => {
    setError(''); setMessage('');
    try {
      const { summary } = await api<{ summary: Version['summary'] }>('PUT', `${base()}?dryRun=true`, text);
      setMessage(`Valid: ${names(summary!.events)}, unplanned ${summary!.unplanned}, violations ${summary!.violations}.`);
    } catch (err) { setError(errorText(err)); }
  };
  const upload = async () => {
    setError(''); setMessage('');
    try {
      const { plan } = await api<{ plan: Version }>('PUT', base(), text);
      setMessage(`Version ${plan.version} is the plan now.`);
      await load();
    } catch (err) { setError(errorText(err)); }
  };
  const infer = async () => {
    setError(''); setMessage('');
    try {
      const inferred = await api<{ plan: unknown; events: number; scanned: number; since: string }>('GET', `${base()}/infer?since=7d`);
      setText(JSON.stringify(inferred.plan, null, 2));
      setMessage(`Inferred from ${inferred.scanned} events since ${new Date(inferred.since).toLocaleString()}; check it, then upload.`);
    } catch (err) { setError(errorText(err)); }
  };

  return html`<section class="plans">
    <h2>Tracking plans</h2>
    <div class="filters">
      <select name="source" value=${sourceId} onChange=${(e: Event) => setSourceId((e.target as HTMLSelectElement).value)}>
        ${sources.map((s) => html`<option value=${s.id}>${s.name}</option>`)}
      </select>
      <span class="current">${current ? `version ${current.version}, ${names(current.summary?.events ?? 0)}, unplanned ${current.summary?.unplanned}, violations ${current.summary?.violations}` : current === null ? 'no plan: every event is accepted' : ''}</span>
    </div>
    <div class="split">
      <div>
        <textarea class="plan" spellcheck=${false} value=${text} onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)} placeholder='{"unplanned": "allow", "violations": "flag", "events": {}}'></textarea>
        <div class="actions">
          <button type="button" onClick=${check} disabled=${!text}>Check</button>
          <button type="button" class="upload" onClick=${upload} disabled=${!text}>Upload as new version</button>
          <button type="button" onClick=${infer}>Infer from events</button>
        </div>
        ${message && html`<p class="notice">${message}</p>`}
        ${error && html`<p class="error" role="alert">${error}</p>`}
      </div>
      <div>
      <h3>Violations in the last hour</h3>
      ${violations && (violations.names.length === 0
        ? html`<p class="muted">None.</p>`
        : html`<table class="list violations">
          <thead><tr><th>event</th><th>flagged (stored)</th><th>blocked (failed)</th></tr></thead>
          <tbody>${violations.names.map((v) => html`<tr key=${v.name}><td>${v.name}</td><td>${v.flagged}</td><td>${v.blocked}</td></tr>`)}</tbody>
        </table>${violations.truncated ? html`<p class="muted">Counted from the most recent events only.</p>` : ''}`)}
      <h3>Versions</h3>
      <table class="list">
        <thead><tr><th>version</th><th>created</th><th></th></tr></thead>
        <tbody>${versions.map((v) => html`<tr key=${v.version}><td>${v.version}</td><td>${new Date(v.createdAt).toLocaleString()}</td><td>${v.deleted ? 'removed the plan' : names(v.summary?.events ?? 0)}</td></tr>`)}</tbody>
      </table>
      </div>
    </div>
  </section>`;
}
