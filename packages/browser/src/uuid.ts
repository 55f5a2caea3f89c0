// v4 UUIDs. crypto.randomUUID exists only in secure contexts; getRandomValues exists everywhere.
export function uuid(): string {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 15) | 64;
  b[8] = (b[8] & 63) | 128;
  let s = '';
  for (let i = 0; i < 16; i++) s += (i === 4 || i === 6 || i === 8 || i === 10 ? '-' : '') + (b[i] | 256).toString(16).slice(1);
  return s;
}

// A v7 UUID for messageIds: the time in front, so a store's index on them grows at one end.
export function uuid7(): string {
  const t = Date.now().toString(16).padStart(12, '0');
  return t.slice(0, 8) + '-' + t.slice(8) + '-7' + uuid().slice(15);
}
