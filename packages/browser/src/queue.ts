// The delivery queue: events as JSON strings (serialized once, when created), sent in batches to
// /v1/batch, persisted to localStorage on a debounce and at pagehide, retried with backoff.
//
// Each page load owns one localStorage key, `inlet_q.<writeKey>.<random>`, so tabs never overwrite
// each other. A page that is hidden or unloaded marks its key as claimable; the next page load of
// that origin adopts such keys (and any key left unchanged for 10 minutes, e.g. after a crash) and
// sends what they hold. Events that a beacon carried are kept until confirmed, so a page load may
// send them again: duplicates share their messageId and are dropped downstream.
import { area } from './storage.ts';
import { backoff, retryAfterMs, retryable } from './retry.ts';

export interface QueueSettings {
  writeKey: string;
  url: string;
  batchSize: number;
  flushIntervalMs: number;
  retryAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  maxQueueEvents: number;
  maxQueueChars: number;
  persistDelayMs: number;
  log: (message: string, count?: number) => void;
}

interface Item {
  /** sequence number, for flush() */
  n: number;
  /** the event as JSON, without sentAt */
  s: string;
  /** in flight */
  f?: boolean;
  /** parked: carried by a beacon, or out of retries; not sent again by this page until it is shown again */
  p?: boolean;
}

/** Largest event the server accepts (32 KB); bigger ones would be rejected, so they are dropped at once. */
const MAX_EVENT_CHARS = 32_000;
/** A request's JSON in characters; ×3 for UTF-8 stays under the 64 KB that beacons and keepalive allow. */
const CHUNK_CHARS = 21_000;
const STALE_MS = 600_000;
const PREFIX = 'inlet_q.';

export class Queue {
  private _items: Item[] = [];
  private _seq = 0;
  private _chars = 0;
  private _timer: ReturnType<typeof setTimeout> | undefined;
  private _due = 0;
  private _persistTimer: ReturnType<typeof setTimeout> | undefined;
  private _busy = false;
  private _failures = 0;
  private _notBefore = 0;
  private _waiters: [number, () => void][] = [];
  private _hidden = false;
  private readonly _key: string;
  private readonly _o: QueueSettings;

  constructor(_o: QueueSettings) {
    this._o = _o;
    this._key = PREFIX + _o.writeKey + '.' + Math.random().toString(36).slice(2);
    this._adopt();
    const hide = () => {
      this._hidden = true;
      this._beacon();
      this._persist();
      this._check();
    };
    const show = () => {
      this._hidden = false;
      for (const i of this._items) i.p = false;
      this._persist();
      this._schedule(0);
    };
    addEventListener('pagehide', hide);
    addEventListener('pageshow', (e) => e.persisted && show());
    addEventListener('online', () => this._schedule(0));
    document.addEventListener('visibilitychange', () => (document.visibilityState === 'hidden' ? hide() : show()));
  }

  /** Constant work: append, bound, arm the timers. No network, no serialization of the queue. */
  push(json: string): void {
    if (json.length > MAX_EVENT_CHARS) return this._o.log('event too large, dropped');
    this._items.push({ n: ++this._seq, s: json });
    this._chars += json.length;
    while (this._items.length > this._o.maxQueueEvents || this._chars > this._o.maxQueueChars) {
      this._chars -= this._items.shift()!.s.length;
      this._o.log('queue full, oldest event dropped');
    }
    this._persistSoon();
    this._schedule(this._items.length >= this._o.batchSize ? 0 : this._o.flushIntervalMs);
  }

  /** Resolves when every event queued before the call is delivered, rejected, or parked. */
  flush(): Promise<void> {
    const mark = this._seq;
    return new Promise((resolve) => {
      this._waiters.push([mark, resolve]);
      this._check();
      this._schedule(0);
    });
  }

  private _check(): void {
    this._waiters = this._waiters.filter(([mark, resolve]) => this._items.some((i) => i.n <= mark && !i.p) || (resolve(), false));
  }

  private _schedule(ms: number): void {
    const due = Date.now() + ms;
    if (this._timer !== undefined && this._due <= due) return;
    clearTimeout(this._timer);
    this._due = due;
    this._timer = setTimeout(() => {
      this._timer = undefined;
      void this._send();
    }, ms);
  }

  /** The next sendable items, oldest first, at most `max` and one chunk of characters. */
  private _take(max: number): Item[] {
    const out: Item[] = [];
    let chars = 0;
    for (const i of this._items) {
      if (out.length >= max || (out.length && chars + i.s.length > CHUNK_CHARS)) break;
      if (i.f || i.p) continue;
      chars += i.s.length;
      out.push(i);
    }
    return out;
  }

  private async _send(): Promise<void> {
    if (this._busy || !navigator.onLine) return; // 'online' reschedules
    const wait = this._notBefore - Date.now();
    if (wait > 0) return this._schedule(wait);
    const batch = this._take(this._o.batchSize);
    if (!batch.length) return;
    this._busy = true;
    await this._deliver(batch);
    this._busy = false;
    const ready = this._take(this._o.batchSize).length;
    if (ready) this._schedule(ready >= this._o.batchSize || this._waiters.length || this._failures ? 0 : this._o.flushIntervalMs);
  }

  private _body(batch: Item[]): Blob {
    const sentAt = '"sentAt":"' + new Date().toISOString() + '"';
    const events = batch.map((i) => i.s.slice(0, -1) + ',' + sentAt + '}');
    // text/plain keeps the request "simple": no CORS preflight, for fetch and beacons alike.
    return new Blob(['{"writeKey":' + JSON.stringify(this._o.writeKey) + ',' + sentAt + ',"batch":[' + events.join(',') + ']}'], { type: 'text/plain' });
  }

  private async _deliver(batch: Item[]): Promise<void> {
    for (const i of batch) i.f = true;
    let outcome: 'done' | 'retry' | 'offline' = 'retry';
    let wait = 0;
    let note = 'batch delivered';
    try {
      const body = this._body(batch);
      // keepalive lets the request finish if the page goes away meanwhile. Credentials stay the
      // default (same-origin): a first-party collect proxy needs its identity cookie, while an
      // Inlet server on another origin gets none.
      const res = await fetch(this._o.url, { method: 'POST', body, keepalive: body.size < 65_000 });
      if (!retryable(res.status)) {
        outcome = 'done';
        if (res.status > 299) note = 'batch rejected with status ' + res.status;
      } else wait = retryAfterMs(res.headers.get('Retry-After'));
    } catch {
      if (!navigator.onLine) outcome = 'offline';
    }
    for (const i of batch) i.f = false;
    if (outcome === 'done') {
      this._items = this._items.filter((i) => !batch.includes(i));
      this._chars = this._items.reduce((n, i) => n + i.s.length, 0);
      this._failures = 0;
      this._o.log(note, batch.length);
    } else if (outcome === 'retry') {
      if (++this._failures > this._o.retryAttempts) {
        for (const i of batch) i.p = true;
        this._failures = 0;
        this._o.log('out of retries; kept for the next page', batch.length);
      } else this._notBefore = Date.now() + Math.max(wait, backoff(this._failures, this._o.retryBaseMs, this._o.retryMaxMs));
    }
    this._persistSoon();
    this._check();
  }

  /** The page may be going away: hand everything to the browser, which sends it even after unload. */
  private _beacon(): void {
    if (!navigator.onLine) return;
    for (let batch: Item[]; (batch = this._take(Infinity)).length; ) {
      if (navigator.sendBeacon?.(this._o.url, this._body(batch))) for (const i of batch) i.p = true;
      else void this._deliver(batch);
    }
  }

  private _persistSoon(): void {
    this._persistTimer ??= setTimeout(() => this._persist(), this._o.persistDelayMs);
  }

  private _persist(): void {
    clearTimeout(this._persistTimer);
    this._persistTimer = undefined;
    try {
      const ls = area('localStorage')!;
      if (!this._items.length) return ls.removeItem(this._key);
      // Built by concatenation: the items are JSON already.
      ls.setItem(this._key, '{"o":' + (this._hidden ? 0 : 1) + ',"t":' + Date.now() + ',"q":[' + this._items.map((i) => i.s).join(',') + ']}');
    } catch {
      this._o.log('queue not persisted (no storage)');
    }
  }

  /** Takes over the queues of page loads that are gone. */
  private _adopt(): void {
    try {
      const ls = area('localStorage')!;
      const prefix = PREFIX + this._o.writeKey + '.';
      const adopted: string[] = [];
      const seen = new Set<string>();
      for (let k = 0; k < ls.length; k++) {
        const key = ls.key(k)!;
        if (!key.startsWith(prefix)) continue;
        try {
          const saved = JSON.parse(ls.getItem(key)!);
          if (saved.o && Date.now() - saved.t < STALE_MS) continue;
          adopted.push(key);
          for (const e of saved.q) {
            if (seen.has(e.messageId)) continue;
            seen.add(e.messageId);
            delete e.sentAt;
            this.push(JSON.stringify(e)); // bounded like any new event
          }
        } catch {
          adopted.push(key); // unreadable: drop it rather than trip over it on every load
        }
      }
      if (!adopted.length) return;
      this._o.log('adopted events of earlier page loads', this._items.length);
      this._persist(); // our copy first, so a crash in between duplicates rather than loses
      for (const key of adopted) ls.removeItem(key);
      this._schedule(0);
    } catch {
      // no storage: nothing to adopt
    }
  }
}
