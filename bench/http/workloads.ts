// The HTTP workloads. Every event carries a fresh messageId: a store that deduplicates by
// messageId (the embedded sink does) would otherwise skip the writes and look faster than it is.
// The ids are UUIDv7 by default, as Inlet's SDKs send them; `v4` is what Segment's SDKs send, and
// costs a store with a unique index on messageId more (random pages instead of one growing end).

import { randomFillSync, randomUUID } from 'node:crypto';
import { newMessageId } from '@inlet/schema';

export type WorkloadName = 'W1' | 'W2' | 'W1F' | 'W1R';

export interface Workload {
  name: WorkloadName;
  description: string;
  path: string;
  eventsPerRequest: number;
  /** events of a request that are valid (the rest go to the failed-events store) */
  validPerRequest: number;
  /**
   * the clients wait as a refusal's Retry-After says before they send again (closed-load.ts), as
   * Inlet's SDKs do; otherwise they resend at once (autocannon)
   */
  honoursRetryAfter?: boolean;
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  W1: { name: 'W1', description: 'POST /v1/batch, 100 events of ~500 bytes', path: '/v1/batch', eventsPerRequest: 100, validPerRequest: 100 },
  W2: { name: 'W2', description: 'POST /v1/track, one event of ~500 bytes', path: '/v1/track', eventsPerRequest: 1, validPerRequest: 1 },
  // W1 where every tenth event has no event name: 10% invalid, kept in the failed-events store.
  W1F: { name: 'W1F', description: 'W1 with 10% invalid events (POST /v1/batch, 100 events, 10 without an event name)', path: '/v1/batch', eventsPerRequest: 100, validPerRequest: 90 },
  // W1's clients (autocannon) resend a refusal at once, which keeps a server's refusal rules busy;
  // SDKs wait as told, so what a refusal costs them is measured apart.
  W1R: { name: 'W1R', description: 'W1 from clients that honour Retry-After (POST /v1/batch, 100 events; a refused connection waits as told)', path: '/v1/batch', eventsPerRequest: 100, validPerRequest: 100, honoursRetryAfter: true },
};

export function parseWorkloads(list: string): Workload[] {
  return list.split(',').map((s) => s.trim()).filter(Boolean).map((name) => {
    const w = WORKLOADS[name.toUpperCase() as WorkloadName];
    if (!w) throw new Error(`unknown workload "${name}" (known: ${Object.keys(WORKLOADS).join(', ')})`);
    return w;
  });
}

const ID_SLOT = '\u0000ID\u0000';

/** A typical browser track event, ~500 bytes as JSON; messageId is a slot filled per request. `invalid`: without its event name. */
function sampleEvent(i: number, now: string, withType: boolean, invalid = false): Record<string, unknown> {
  return {
    ...(withType ? { type: 'track' } : {}),
    ...(invalid ? {} : { event: i % 3 === 0 ? 'Product Viewed' : i % 3 === 1 ? 'Added To Cart' : 'Checkout Started' }),
    userId: `user-${(i * 7919) % 5000}`,
    anonymousId: `anon-3f1c9d2e-${String(i).padStart(4, '0')}`,
    messageId: ID_SLOT,
    originalTimestamp: now,
    properties: { product_id: `sku-${1000 + i}`, name: 'Trail running shoe', price: 129.99, currency: 'EUR', quantity: 1 },
    context: {
      library: { name: 'inlet-browser', version: '0.1.0' },
      page: { path: '/products/trail-runner', url: 'https://shop.example.com/products/trail-runner' },
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36',
      locale: 'en-GB',
    },
  };
}

export type MessageIdKind = 'v7' | 'v4';
export const MESSAGE_ID_KINDS: readonly MessageIdKind[] = ['v7', 'v4'];

/** A body as pieces around the messageId slots; `render()` fills each slot with a new id. */
export interface BodyTemplate {
  bytes: number;
  render(): string;
  /**
   * The same as bytes: a copy of one rendering with each id written in place by idWriter. Rendering
   * a W1 body took the load generator ~160 µs (most of it making 100 ids as strings): at 1,600
   * requests a second, a quarter of a core of the two the server under test runs on.
   */
  renderBytes(): Buffer;
}

export function bodyTemplate(workload: Workload, ids: MessageIdKind): BodyTemplate {
  const newId = ids === 'v7' ? newMessageId : randomUUID;
  const now = new Date().toISOString();
  const invalidEvery = workload.validPerRequest < workload.eventsPerRequest ? Math.round(workload.eventsPerRequest / (workload.eventsPerRequest - workload.validPerRequest)) : 0;
  const body = workload.path === '/v1/batch'
    ? { batch: Array.from({ length: workload.eventsPerRequest }, (_, i) => sampleEvent(i, now, true, invalidEvery > 0 && i % invalidEvery === invalidEvery - 1)), sentAt: now }
    : { ...sampleEvent(0, now, false), sentAt: now };
  const pieces = JSON.stringify(body).split(JSON.stringify(ID_SLOT));
  const render = () => {
    let out = pieces[0];
    for (let i = 1; i < pieces.length; i++) out += `"${newId()}"` + pieces[i];
    return out;
  };
  const rendered = Buffer.from(render());
  const ID_LENGTH = 36; // (what idWriter writes)
  const slots: number[] = [];
  for (let i = 1, at = 0; i < pieces.length; i++) {
    at += Buffer.byteLength(pieces[i - 1]) + 1;
    slots.push(at);
    at += ID_LENGTH + 1;
  }
  const writeId = idWriter(ids);
  const renderBytes = () => {
    const out = Buffer.allocUnsafe(rendered.length);
    rendered.copy(out);
    for (const at of slots) writeId(out, at);
    return out;
  };
  return { bytes: rendered.length, render, renderBytes };
}

const HEX = Buffer.from('0123456789abcdef', 'latin1');

/**
 * Writes UUIDs of `kind` (36 characters) straight into a buffer: the same ids newMessageId and
 * randomUUID make (v7: the millisecond, then random bits), from one pool of random bytes, with no
 * strings in between.
 */
function idWriter(kind: MessageIdKind): (out: Buffer, at: number) => void {
  const pool = Buffer.alloc(16 * 256);
  let used = pool.length;
  const id = Buffer.alloc(16);
  return (out, at) => {
    if (used === pool.length) {
      randomFillSync(pool);
      used = 0;
    }
    pool.copy(id, 0, used, used + 16);
    used += 16;
    if (kind === 'v7') id.writeUIntBE(Date.now(), 0, 6);
    id[6] = (kind === 'v7' ? 0x70 : 0x40) | (id[6] & 0x0f);
    id[8] = 0x80 | (id[8] & 0x3f);
    let o = at;
    for (let i = 0; i < 16; i++) {
      if (i === 4 || i === 6 || i === 8 || i === 10) out[o++] = 0x2d; // '-'
      out[o++] = HEX[id[i] >> 4];
      out[o++] = HEX[id[i] & 15];
    }
  };
}
