// Segment's HTTP API takes a `context` and an `integrations` object beside a batch's events, and
// merges each into every event of the batch (its docs, "Batch"): a tool written against that API
// sends once what applies to all its events. Ignored, they were lost without a word. An event's own
// keys win; the batch's fill the keys it lacks (one level: an event's `device` replaces the
// batch's `device` whole). Copied into every event, they may take at most four times the body
// limit (a 1 KB context shared by 600 events is fine): otherwise a small body would become a
// thousand times its size in records, past what admission reserved for it.
import { Errors, type InletError } from '../errors.ts';

const FIELDS = ['context', 'integrations'] as const;
const SHARED_BYTES_PER_BODY_BYTE = 4;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Merges the body's shared fields into each event, in place (a failed event is kept as merged), or
 * returns the error to refuse the body with. `null` counts as absent; an event whose own field is
 * not an object is left for validation to refuse.
 */
export function applyBatchDefaults(body: Record<string, unknown>, items: unknown[], maxBodyBytes: number): InletError | undefined {
  let sharedBytes = 0;
  for (const field of FIELDS) {
    const shared = body[field];
    if (shared === undefined || shared === null) continue;
    if (!isObject(shared)) return Errors.invalidBody(`${field} beside batch must be an object (it applies to every event of the batch)`);
    sharedBytes += Buffer.byteLength(JSON.stringify(shared));
  }
  if (sharedBytes === 0) return undefined;
  if (sharedBytes * items.length > SHARED_BYTES_PER_BODY_BYTE * maxBodyBytes) {
    return Errors.bodyTooLarge(`context and integrations beside batch, copied into each of its ${items.length} events, take ${sharedBytes * items.length} bytes; the limit is ${SHARED_BYTES_PER_BODY_BYTE * maxBodyBytes}`);
  }
  for (const field of FIELDS) {
    const shared = body[field];
    if (!isObject(shared)) continue;
    for (const item of items) {
      if (!isObject(item)) continue;
      const own = item[field];
      if (own === undefined || own === null) item[field] = { ...shared };
      else if (isObject(own)) item[field] = { ...shared, ...own };
    }
  }
  return undefined;
}
