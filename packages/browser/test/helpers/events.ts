// What the tests check on the server's side: the records it stored.
import assert from 'node:assert/strict';
import type { NormalizedRecord } from '@inlet/schema';

export type Stored = NormalizedRecord & { properties?: { i?: number; [key: string]: unknown } };

/** Records of the test page tagged `tag` (the tag is in each page URL's query string). */
export function tagged(records: NormalizedRecord[], tag: string): Stored[] {
  const marker = `?t=${encodeURIComponent(tag)}&`;
  return records.filter((r) => String((r.context?.page as { search?: string } | undefined)?.search ?? '').includes(marker)) as Stored[];
}

/** Polls until `check` returns a value (not undefined/false), or fails after `timeoutMs` with `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Nothing lost, nothing invented: every expected messageId is stored, no other record carries the
 * tag, and no logical event (track name + properties.i) was stored under two messageIds — the
 * store keeps one record per messageId, so a re-send under a new id would show up here.
 */
export function assertExactlyOnce(records: Stored[], expectedIds: string[]): void {
  const ids = new Set(records.map((r) => r.messageId));
  const missing = expectedIds.filter((id) => !ids.has(id));
  assert.deepEqual(missing, [], `${missing.length} of ${expectedIds.length} events were lost`);
  const extra = [...ids].filter((id) => !expectedIds.includes(id));
  assert.deepEqual(extra, [], 'records that no call created');
  const logical = new Map<string, string>();
  for (const r of records) {
    const key = `${r.type}:${r.event ?? ''}:${r.properties?.i ?? ''}:${r.messageId}`;
    const name = key.slice(0, key.lastIndexOf(':'));
    if (r.type === 'track') {
      const seen = logical.get(name);
      assert.ok(seen === undefined || seen === r.messageId, `event ${name} stored under two messageIds`);
      logical.set(name, r.messageId);
    }
  }
}

/** Waits until every expected id is stored, then checks exactly-once. */
export async function expectDelivered(events: () => Promise<NormalizedRecord[]>, tag: string, expectedIds: string[], timeoutMs?: number): Promise<Stored[]> {
  const want = new Set(expectedIds);
  const records = await waitFor(`${expectedIds.length} events tagged ${tag}`, async () => {
    const mine = tagged(await events(), tag);
    return mine.filter((r) => want.has(r.messageId)).length === want.size ? mine : undefined;
  }, timeoutMs);
  assertExactlyOnce(records, expectedIds);
  return records;
}
