// Health: the sink (embedded or Kafka) and whether it takes writes, its write latency, and the
// requests this server answered by status.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText } from './api.ts';

interface Health {
  sink: { kind: string; ready: boolean; latencyMs: { p50: number | null; p99: number | null } };
  live: { viewers: number; maxViewers: number };
  requests: { route: string; status: string; count: number }[];
  uptimeSeconds: number;
}

function totals(health: Health): Map<string, number> {
  const byStatus = new Map<string, number>();
  for (const r of health.requests) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + r.count);
  return byStatus;
}

const ms = (v: number | null) => (v === null ? '—' : `≤ ${v} ms`);

export function HealthPage() {
  const [health, setHealth] = useState<Health | undefined>();
  const [error, setError] = useState('');
  // Rates: the change in each status's count between two reads.
  const previous = useRef<{ at: number; byStatus: Map<string, number> } | undefined>(undefined);
  const [rates, setRates] = useState<Map<string, number>>(new Map());
  useEffect(() => {
    const load = () => api<Health>('GET', '/api/health').then((h) => {
      const byStatus = totals(h);
      const at = Date.now();
      const before = previous.current;
      if (before) setRates(new Map([...byStatus].map(([status, count]) => [status, (count - (before.byStatus.get(status) ?? 0)) / ((at - before.at) / 1000)])));
      previous.current = { at, byStatus };
      setHealth(h);
      setError('');
    }, (e) => setError(errorText(e)));
    load();
    const timer = setInterval(load, 5000);
    return () => clearInterval(timer);
  }, []);
  if (!health) return html`<section><h2>Health</h2>${error ? html`<p class="error">${error}</p>` : html`<p class="muted">Loading…</p>`}</section>`;
  const byStatus = totals(health);
  return html`<section class="health">
    <h2>Health</h2>
    ${error && html`<p class="error">${error}</p>`}
    <dl class="facts">
      <dt>sink</dt><dd class="sink-kind">${health.sink.kind}</dd>
      <dt>ready</dt><dd class=${health.sink.ready ? 'ok' : 'bad'}>${health.sink.ready ? 'ready' : 'not ready'}</dd>
      <dt>write latency</dt><dd>p50 ${ms(health.sink.latencyMs.p50)}, p99 ${ms(health.sink.latencyMs.p99)}</dd>
      <dt>live viewers</dt><dd>${health.live.viewers} of ${health.live.maxViewers}</dd>
      <dt>up</dt><dd>${Math.round(health.uptimeSeconds / 60)} min</dd>
    </dl>
    <h3>Requests by status (since start)</h3>
    <table class="list requests">
      <thead><tr><th>status</th><th>requests</th><th>per second (last 5 s)</th></tr></thead>
      <tbody>${[...byStatus].sort().map(([status, count]) => html`<tr><td>${status}</td><td>${count}</td><td>${rates.has(status) ? rates.get(status)!.toFixed(1) : '…'}</td></tr>`)}</tbody>
    </table>
    <h3>By route</h3>
    <table class="list">
      <thead><tr><th>route</th><th>status</th><th>requests</th></tr></thead>
      <tbody>${health.requests.map((r) => html`<tr><td>${r.route}</td><td>${r.status}</td><td>${r.count}</td></tr>`)}</tbody>
    </table>
  </section>`;
}
