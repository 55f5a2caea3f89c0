// Live: events as the server stores them (and those it could not), newest on top, over
// server-sent events from /api/live. The page keeps the last 500 whatever the rate, and redraws
// at most ten times a second. Filters are applied by the server, so a busy source does not push a quiet
// one's events out of the 500. Stored JSON is shown as text (Preact escapes it), never as markup.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, listSources, query, type Source } from './api.ts';

export const KEEP = 500;

interface LiveItem {
  n: number;
  kind: 'stored' | 'failed';
  sourceId: string;
  at: string;
  type?: string;
  name?: string;
  userId?: string;
  anonymousId?: string;
  reason?: string;
  data: unknown;
}

interface Filters { source: string; type: string; event: string; user: string }

const TYPES = ['', 'track', 'identify', 'page', 'screen', 'group', 'alias'];
let counter = 0;

/** As the server's live hub names it (live-hub.ts): a page's or screen's own name, a track's event. */
const nameOf = (e: Record<string, any>): string | undefined => {
  const pick = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return e.type === 'page' || e.type === 'screen' ? pick(e.name) ?? pick(e.event) : pick(e.event) ?? pick(e.name);
};

function toItem(kind: 'stored' | 'failed', raw: string): LiveItem {
  const data = JSON.parse(raw) as Record<string, any>;
  if (kind === 'stored') {
    return { n: counter++, kind, sourceId: data.sourceId, at: data.receivedAt, type: data.type, name: nameOf(data), userId: data.userId, anonymousId: data.anonymousId, data };
  }
  const event = (data.event ?? {}) as Record<string, any>;
  return {
    n: counter++, kind, sourceId: data.sourceId, at: data.receivedAt, type: typeof event.type === 'string' ? event.type : data.context?.type,
    name: nameOf(event), userId: event.userId, anonymousId: event.anonymousId, reason: data.reason, data,
  };
}

const time = (iso: string | undefined) => (iso ? new Date(iso).toLocaleTimeString() : '');
const str = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v));

export function LivePage() {
  const [sources, setSources] = useState<Source[]>([]);
  const [draft, setDraft] = useState<Filters>({ source: '', type: '', event: '', user: '' });
  const [filters, setFilters] = useState<Filters>(draft);
  const [paused, setPaused] = useState(false);
  const [status, setStatus] = useState('connecting');
  const [dropped, setDropped] = useState(0);
  const [selected, setSelected] = useState<LiveItem | undefined>();
  const [, redraw] = useState(0);
  const items = useRef<LiveItem[]>([]);
  const held = useRef<LiveItem[]>([]);
  const pausedRef = useRef(paused);
  pausedRef.current = paused;

  useEffect(() => { listSources().then(setSources, () => {}); }, []);

  useEffect(() => {
    items.current = [];
    held.current = [];
    setDropped(0);
    setSelected(undefined);
    // A new stream (new filters) is not live until it opens: the old one's status must not say so.
    setStatus('connecting');
    const source = new EventSource(`/api/live${query({ source: filters.source, type: filters.type, event: filters.event, user: filters.user })}`);
    // At most ten redraws a second, however fast events come.
    let frame: ReturnType<typeof setTimeout> | undefined;
    const schedule = () => { frame ??= setTimeout(() => { frame = undefined; redraw((x) => x + 1); }, 100); };
    const add = (item: LiveItem) => {
      const target = pausedRef.current ? held : items;
      target.current.unshift(item);
      if (target.current.length > KEEP) target.current.length = KEEP;
      schedule();
    };
    source.onopen = () => setStatus('live');
    source.onerror = () => {
      setStatus(source.readyState === EventSource.CLOSED ? 'closed' : 'reconnecting');
      // A stream refused for good may be a session that ended: asking shows the login form if so.
      if (source.readyState === EventSource.CLOSED) api('GET', '/api/session').catch(() => {});
    };
    source.addEventListener('stored', (e) => add(toItem('stored', (e as MessageEvent).data)));
    source.addEventListener('failed', (e) => add(toItem('failed', (e as MessageEvent).data)));
    source.addEventListener('dropped', (e) => setDropped((d) => d + (JSON.parse((e as MessageEvent).data).dropped as number)));
    source.addEventListener('refused', (e) => { setStatus(`refused: ${JSON.parse((e as MessageEvent).data).error}`); source.close(); });
    return () => { source.close(); clearTimeout(frame); };
  }, [filters]);

  const resume = () => {
    items.current = [...held.current, ...items.current].slice(0, KEEP);
    held.current = [];
    setPaused(false);
  };
  const field = (name: keyof Filters) => (e: Event) => setDraft({ ...draft, [name]: (e.target as HTMLInputElement).value });
  const apply = (e: Event) => { e.preventDefault(); setFilters(draft); };

  return html`<section class="live">
    <h2>Live <span class=${`status status-${status.split(':')[0]}`}>${status}</span></h2>
    <form class="filters" onSubmit=${apply}>
      <select name="source" value=${draft.source} onChange=${field('source')}>
        <option value="">all sources</option>
        ${sources.map((s) => html`<option value=${s.id}>${s.name}</option>`)}
      </select>
      <select name="type" value=${draft.type} onChange=${field('type')}>
        ${TYPES.map((t) => html`<option value=${t}>${t || 'any type'}</option>`)}
      </select>
      <input name="event" placeholder="event name" value=${draft.event} onInput=${field('event')} />
      <input name="user" placeholder="userId or anonymousId" value=${draft.user} onInput=${field('user')} />
      <button type="submit">Filter</button>
      ${paused
        ? html`<button type="button" class="resume" onClick=${resume}>Resume (${held.current.length} new)</button>`
        : html`<button type="button" class="pause" onClick=${() => setPaused(true)}>Pause</button>`}
    </form>
    ${dropped > 0 && html`<p class="warning dropped">${dropped} events were not shown: this page could not keep up.</p>`}
    <div class="split">
      <table class="events">
        <thead><tr><th>received</th><th></th><th>type</th><th>event</th><th>user</th><th>source</th></tr></thead>
        <tbody>
          ${items.current.map((item) => html`<tr key=${item.n} class=${`live-row ${item.kind} ${selected?.n === item.n ? 'selected' : ''}`} onClick=${() => setSelected(item)}>
            <td>${time(item.at)}</td>
            <td>${item.kind === 'failed' ? html`<span class="badge failed">${item.reason}</span>` : ''}</td>
            <td>${str(item.type)}</td>
            <td class="name">${str(item.name)}</td>
            <td>${str(item.userId ?? item.anonymousId)}</td>
            <td>${sources.find((s) => s.id === item.sourceId)?.name ?? item.sourceId}</td>
          </tr>`)}
        </tbody>
      </table>
      <aside class="detail">
        ${selected
          ? html`<h3>${selected.kind === 'stored' ? 'Stored event' : `Failed: ${selected.reason}`}</h3><pre class="json">${JSON.stringify(selected.data, null, 2)}</pre>`
          : html`<p class="muted">${items.current.length === 0 ? 'Waiting for events…' : 'Click an event to see its stored JSON.'}</p>`}
      </aside>
    </div>
  </section>`;
}
