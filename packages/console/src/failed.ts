// Failed: the events the server could not store, with the reason and what the client was told,
// and a replay that always shows a dry run first ("12 would pass now") before storing anything.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, errorText, listSources, query, type Source } from './api.ts';

interface FailedView { id: string; sourceId: string; receivedAt: string; reason: string; errors: string[]; route: string; event?: any; status: string }
interface Summary { dryRun: boolean; matched: number; passed: number; stored: number; duplicates: number; stillFailing: number }

export function FailedPage() {
  const [sources, setSources] = useState<Source[]>([]);
  const [reasons, setReasons] = useState<string[]>([]);
  const [filter, setFilter] = useState({ source: '', reason: '', since: '24h' });
  const [rows, setRows] = useState<FailedView[]>([]);
  const [selected, setSelected] = useState<FailedView | undefined>();
  const [dry, setDry] = useState<Summary | undefined>();
  const [done, setDone] = useState<Summary | undefined>();
  const [error, setError] = useState('');

  const load = async () => {
    setError('');
    try {
      const page = await api<{ failed: FailedView[] }>('GET', `/api/failed${query({ ...filter, limit: '200' })}`);
      setRows(page.failed);
    } catch (err) { setError(errorText(err)); }
  };
  useEffect(() => {
    listSources().then(setSources, () => {});
    api<{ reasons: Record<string, string> }>('GET', '/api/failed/reasons').then((r) => setReasons(Object.keys(r.reasons)), () => {});
  }, []);
  useEffect(() => { load(); setDry(undefined); setDone(undefined); }, [filter]);

  const body = () => ({ source: filter.source || undefined, reason: filter.reason || undefined, since: filter.since || undefined });
  const dryRun = async () => {
    setError(''); setDone(undefined);
    try { setDry(await api<Summary>('POST', '/api/failed/replay', { ...body(), dryRun: true })); } catch (err) { setError(errorText(err)); }
  };
  const replay = async () => {
    setError('');
    try { setDone(await api<Summary>('POST', '/api/failed/replay', body())); setDry(undefined); await load(); } catch (err) { setError(errorText(err)); }
  };
  const set = (name: string) => (e: Event) => setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value });
  const sourceName = (id: string) => sources.find((s) => s.id === id)?.name ?? id;

  return html`<section class="failed">
    <h2>Failed events</h2>
    <div class="filters">
      <select name="source" value=${filter.source} onChange=${set('source')}>
        <option value="">all sources</option>${sources.map((s) => html`<option value=${s.id}>${s.name}</option>`)}
      </select>
      <select name="reason" value=${filter.reason} onChange=${set('reason')}>
        <option value="">any reason</option>${reasons.map((r) => html`<option value=${r}>${r}</option>`)}
      </select>
      <select name="since" value=${filter.since} onChange=${set('since')}>
        ${['1h', '24h', '7d'].map((s) => html`<option value=${s}>last ${s}</option>`)}
      </select>
      <button type="button" onClick=${load}>Refresh</button>
      <button type="button" class="dry-run" onClick=${dryRun}>Replay…</button>
    </div>
    ${dry && html`<p class="notice replay-check">${dry.passed} of ${dry.matched} would pass now${dry.stillFailing ? `, ${dry.stillFailing} still fail` : ''}.
      ${dry.passed > 0 && html` <button type="button" class="replay" onClick=${replay}>Replay ${dry.passed}</button>`}
      <button type="button" class="link" onClick=${() => setDry(undefined)}>Cancel</button></p>`}
    ${done && html`<p class="notice replay-done">Replayed ${done.passed}: ${done.stored} stored, ${done.duplicates} already stored, ${done.stillFailing} still fail.</p>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="split">
      <table class="events">
        <thead><tr><th>received</th><th>source</th><th>reason</th><th>what was wrong</th></tr></thead>
        <tbody>${rows.map((row) => html`<tr key=${row.id} class=${`failed-row ${selected?.id === row.id ? 'selected' : ''}`} onClick=${() => setSelected(row)}>
          <td>${new Date(row.receivedAt).toLocaleString()}</td>
          <td>${sourceName(row.sourceId)}</td>
          <td><span class="badge failed">${row.reason}</span></td>
          <td class="errors">${row.errors.join('; ')}</td>
        </tr>`)}</tbody>
      </table>
      <aside class="detail">
        ${selected ? html`<h3>${selected.reason}</h3><ul class="errors">${selected.errors.map((e) => html`<li>${e}</li>`)}</ul><pre class="json">${JSON.stringify(selected, null, 2)}</pre>`
          : html`<p class="muted">${rows.length ? 'Click a failed event to see it as received.' : 'No failed events match.'}</p>`}
      </aside>
    </div>
  </section>`;
}
