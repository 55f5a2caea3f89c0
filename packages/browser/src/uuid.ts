// UUIDs from random bytes drawn 64 ids' worth at a time. In Chromium each draw from the browser's
// generator, crypto.randomUUID's included, costs ~3 µs on the page's main thread (2026-12-06
// session), as much as the rest of an id; getRandomValues also works outside secure contexts.
const pool = new Uint8Array(1024);
let used = pool.length;
const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX[i] = (i + 256).toString(16).slice(1);

/** A v4 UUID; with `ms`, a v7 one: the time in front, so a store's index on them grows at one end. */
export function uuid(ms?: number): string {
  if (used == pool.length) {
    crypto.getRandomValues(pool);
    used = 0;
  }
  const b = pool.subarray(used, (used += 16));
  for (let i = 5; ms !== undefined && i >= 0; i--, ms = Math.floor(ms / 256)) b[i] = ms;
  b[6] = (b[6] & 15) | (ms === undefined ? 64 : 112);
  b[8] = (b[8] & 63) | 128;
  let s = '';
  for (let i = 0; i < 16; i++) s += (i == 4 || i == 6 || i == 8 || i == 10 ? '-' : '') + HEX[b[i]];
  return s;
}
