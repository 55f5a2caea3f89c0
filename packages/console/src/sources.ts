// Sources: create one (its write key is shown this once, with a curl line and the snippet),
// rename, revoke; per source the last hour's stored and failed events per second, and the
// accounting identity received = stored + failed + duplicate.
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, errorText, listSources, query, type Source } from './api.ts';
import { RateChart, type Minute } from './chart.ts';

interface Stats { sources: { sourceId: string; received: number; stored: number; failed: number; duplicate: number; replayed: number }[]; minutes?: Minute[]; scope: string }
interface Created { source: Source & { writeKey: string } }

function NewKey({ created, publicUrl }: { created: Created['source']; publicUrl: string }) {
  const curl = `curl -X POST ${publicUrl}/v1/track -u '${created.writeKey}:' -H 'content-type: application/json' -d '{"userId":"u1","event":"hello"}'`;
  const snippet = `<script src="${publicUrl}/sdk/inlet.min.js"></script>\n<script>const analytics = new Inlet.Analytics({ writeKey: '${created.writeKey}', endpoint: '${publicUrl}' });</script>`;
  return html`<div class="notice created">
    <p>Source <strong>${created.name}</strong> created. Its write key is shown only now:</p>
    <pre class="key">${created.writeKey}</pre>
    <p>Send an event:</p><pre class="curl">${curl}</pre>
    <p>Or in a page:</p><pre>${snippet}</pre>
  </div>`;
}

function SourceDetail({ source, onChanged }: { source: Source; onChanged: () => void }) {
  const [stats, setStats] = useState<Stats | undefined>();
  const [name, setName] = useState(source.name);
  const [error, setError] = useState('');
  useEffect(() => {
    setName(source.name);
    let stop = false;
    const load = () => api<Stats>('GET', `/api/stats${query({ source: source.id, since: '1h', series: 'true' })}`).then((s) => { if (!stop) setStats(s); }, (e) => setError(errorText(e)));
    load();
    const timer = setInterval(load, 5000);
    return () => { stop = true; clearInterval(timer); };
  }, [source.id]);
  const rename = async (e: Event) => {
    e.preventDefault();
    try { await api('PATCH', `/api/sources/${encodeURIComponent(source.id)}`, { name }); onChanged(); } catch (err) { setError(errorText(err)); }
  };
  const revoke = async () => {
    if (!confirm(`Revoke ${source.name}? Its write key stops working.`)) return;
    try { await api('POST', `/api/sources/${encodeURIComponent(source.id)}/revoke`); onChanged(); } catch (err) { setError(errorText(err)); }
  };
  const t = stats?.sources[0] ?? { received: 0, stored: 0, failed: 0, duplicate: 0, replayed: 0 };
  return html`<div class="source-detail">
    <h3>${source.name} <small class="muted">${source.id}</small></h3>
    <p class="identity">Last hour: received <b class="received">${t.received}</b> = stored <b class="stored">${t.stored}</b> + failed <b class="failed">${t.failed}</b> + duplicate <b>${t.duplicate}</b>${t.replayed ? ` (and ${t.replayed} replayed)` : ''}${stats?.scope === 'process' ? ' — this server only, since it started' : ''}</p>
    ${stats && html`<${RateChart} minutes=${stats.minutes ?? []} />`}
    ${source.revokedAt ? html`<p class="muted">Revoked ${new Date(source.revokedAt).toLocaleString()}.</p>` : html`
      <form class="rename" onSubmit=${rename}>
        <input name="name" value=${name} onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled=${name === source.name || name.trim() === ''}>Rename</button>
        <button type="button" class="danger revoke" onClick=${revoke}>Revoke</button>
      </form>`}
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </div>`;
}

export function SourcesPage() {
  const [sources, setSources] = useState<Source[]>([]);
  const [selected, setSelected] = useState<string | undefined>();
  const [name, setName] = useState('');
  const [ipPolicy, setIpPolicy] = useState('full');
  const [kind, setKind] = useState('browser');
  const [created, setCreated] = useState<Created['source'] | undefined>();
  const [publicUrl, setPublicUrl] = useState('');
  const [error, setError] = useState('');
  const load = () => listSources().then((list) => { setSources(list); setSelected((s) => s ?? list.find((x) => !x.revokedAt)?.id); }, (e) => setError(errorText(e)));
  useEffect(() => {
    load();
    api<{ publicUrl: string }>('GET', '/api/health').then((h) => setPublicUrl(h.publicUrl), () => {});
  }, []);
  const create = async (e: Event) => {
    e.preventDefault();
    setError('');
    try {
      const { source } = await api<Created>('POST', '/api/sources', { name, ipPolicy, kind });
      setCreated(source);
      setName('');
      setSelected(source.id);
      await load();
    } catch (err) { setError(errorText(err)); }
  };
  const current = sources.find((s) => s.id === selected);
  return html`<section class="sources">
    <h2>Sources</h2>
    <form class="create" onSubmit=${create}>
      <input name="name" placeholder="new source name" value=${name} onInput=${(e: Event) => setName((e.target as HTMLInputElement).value)} />
      <select name="kind" value=${kind} onChange=${(e: Event) => setKind((e.target as HTMLSelectElement).value)}>
        <option value="browser">browser (the connection's IP)</option><option value="server">server (forwarded IPs kept)</option>
      </select>
      <select name="ipPolicy" value=${ipPolicy} onChange=${(e: Event) => setIpPolicy((e.target as HTMLSelectElement).value)}>
        <option value="full">keep IP</option><option value="anonymize">anonymize IP</option><option value="drop">drop IP</option>
      </select>
      <button type="submit" disabled=${name.trim() === ''}>Create source</button>
    </form>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${created && html`<${NewKey} created=${created} publicUrl=${publicUrl} />`}
    <div class="split">
      <table class="list">
        <thead><tr><th>name</th><th>kind</th><th>IP</th><th>created</th><th></th></tr></thead>
        <tbody>${sources.map((s) => html`<tr key=${s.id} class=${`source-row ${s.id === selected ? 'selected' : ''}`} onClick=${() => setSelected(s.id)}>
          <td>${s.name}</td><td>${s.kind ?? ''}</td><td>${s.ipPolicy}</td><td>${new Date(s.createdAt).toLocaleDateString()}</td>
          <td>${s.revokedAt ? html`<span class="badge">revoked</span>` : ''}</td>
        </tr>`)}</tbody>
      </table>
      <div class="detail">${current ? html`<${SourceDetail} source=${current} onChanged=${load} />` : html`<p class="muted">Pick a source.</p>`}</div>
    </div>
  </section>`;
}
