// The UUIDs of every package: v7 for messageIds, v4 for identities (anonymous and session ids).
// No dependencies, because the browser SDK bundles this file too.
//
// Random bytes are drawn for 64 ids at a time. In Chromium every draw from the browser's generator
// (crypto.randomUUID's too) took ~3 µs on the page's main thread, longer than building the id
// around it. In Node a v7 id through randomUUID took 0.8–0.95 µs against 0.3–0.5 this way (2026-12-06).
// getRandomValues also works outside a browser's secure contexts, where randomUUID is missing.
const BYTES_PER_ID = 16;
const pool = new Uint8Array(64 * BYTES_PER_ID);
let used = pool.length;
const HEX = Array.from({ length: 256 }, (_, i) => (i + 256).toString(16).slice(1));

/** 16 random bytes as a UUID of `version`; a v7 carries `ms` big-endian in its first 6 bytes. */
function fromRandomBytes(version: 4 | 7, ms: number): string {
  if (used === pool.length) {
    crypto.getRandomValues(pool);
    used = 0;
  }
  const at = used;
  used += BYTES_PER_ID;
  if (version === 7) for (let i = 5, rest = ms; i >= 0; i--, rest = Math.floor(rest / 256)) pool[at + i] = rest;
  pool[at + 6] = (pool[at + 6] & 15) | (version << 4);
  pool[at + 8] = (pool[at + 8] & 63) | 128; // the RFC 9562 variant
  let id = '';
  for (let i = 0; i < 16; i++) id += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + HEX[pool[at + i]];
  return id;
}

/** A random (v4) UUID. */
export function uuid(): string {
  return fromRandomBytes(4, 0);
}

/**
 * A new messageId: a UUIDv7 (RFC 9562), whose first 48 bits are the Unix time in milliseconds.
 * Ids made close in time sort together, so a store's unique index on them grows at one end; random
 * v4 ids land on a different index page each, which made the embedded store's commits ~5x slower.
 * The other 74 bits are random.
 */
export function newMessageId(nowMs: number = Date.now()): string {
  return fromRandomBytes(7, nowMs);
}
