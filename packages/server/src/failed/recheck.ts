// A failed event checked again, the way the ingest route checks events today: what passes comes
// out as the record it would have been stored as when it arrived (its messageId, receivedAt and
// client address), marked `context.inlet.replayed` with the failed entry's id.
import { createNormalizer, isTimestamp, validateEvent, type Limits } from '@inlet/schema';
import { parseJson } from '../body.ts';
import { Errors } from '../errors.ts';
import { tooLarge } from '../event-size.ts';
import { applyBatchDefaults } from '../routes/batch-defaults.ts';
import { inexactNumbers } from '../numbers.ts';
import { markChecked, type CompiledPlan } from '../plans/compiled-plan.ts';
import { violationText, type Violation } from '../plans/plan.ts';
import type { StoredEvent } from '../sinks/sink.ts';
import { derivedMessageId, MAX_FAILED_ENTRY_BYTES, rawBytes, type FailedEvent } from './failed-event.ts';
import type { FailureReason } from './reasons.ts';

export type Recheck = { ok: true; events: StoredEvent[] } | { ok: false; reason: FailureReason; errors: string[]; plan?: { version: number; violations: Violation[] } };

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

const failure = (reason: FailureReason, ...errors: string[]): Recheck => ({ ok: false, reason, errors });

/** `plan`: the source's tracking plan now (undefined when it has none), which the events are checked against too. */
export function recheck(entry: FailedEvent, limits: Limits, plan?: CompiledPlan): Recheck {
  if (entry.inexact) return failure(entry.reason, ...entry.errors, 'its numbers were kept as text or as the parser rounded them, not as sent, so it is not replayed; the client has to send it again');
  const receivedAtMs = Date.parse(entry.receivedAt);
  /** `body`: what `item` came in (the event itself on a single-event route), for the overflow check */
  const build = (item: unknown, body: object, messageId: string, sentAt: string | undefined): Recheck => {
    // An id beyond 2^53 in a body kept whole is the integer the parser rounded it to: not replayed either.
    const inexact = inexactNumbers(body, item);
    if (inexact) return failure('invalid', ...inexact.errors);
    const validation = validateEvent(item, entry.context.type);
    if (!validation.ok) return failure('invalid', ...validation.errors);
    const event = validation.event;
    const verdict = plan?.check(event);
    if (plan && verdict?.block) {
      return { ok: false, reason: 'plan_violation', errors: verdict.violations.map((v) => violationText(v, plan.version)), plan: { version: plan.version, violations: verdict.violations } };
    }
    // The peer's address was kept after the policy; applying it again changes nothing (and it
    // treats a server source's forwarded address, which is in the event as the client sent it).
    const { ip, ipPolicy, keepClientIp, historical } = entry.context;
    // (a copy with the messageId: the size limit is on the event as it was sent)
    const record = createNormalizer({ sourceId: entry.sourceId, receivedAtMs, ip, ipPolicy: ipPolicy ?? 'full', sentAt, keepClientIp, timeAsGiven: historical })({ ...event, messageId: event.messageId ?? messageId });
    if (plan) markChecked(record, plan.version, verdict?.violations);
    record.context.inlet = { ...(isObject(record.context.inlet) ? record.context.inlet : {}), replayed: entry.id };
    const json = JSON.stringify(record);
    const large = tooLarge(json, item, limits.maxEventBytes);
    if (large !== undefined) return failure('too_large', large);
    return { ok: true, events: [{ record, json }] };
  };

  if (entry.kind === 'event') {
    if (entry.event === undefined) return failure(entry.reason, `only the first bytes of the event were kept (it was over ${MAX_FAILED_ENTRY_BYTES} bytes as kept), so it cannot be replayed`);
    return build(entry.event, entry.event as object, entry.messageId!, entry.context.sentAt);
  }

  let body = entry.event;
  if (body === undefined) {
    if (!entry.raw) return failure(entry.reason, 'the body was refused before it was read, so there is nothing to replay');
    if (entry.raw.truncated) return failure(entry.reason, `only the first ${entry.raw.bytes} bytes of the body were kept, so it cannot be replayed`);
    try {
      // As the ingest route parses a body: bytes that are not UTF-8 refused, not decoded to U+FFFD;
      // a number a double cannot hold kept as an UnrepresentableNumber, which the check above refuses.
      body = parseJson(rawBytes(entry.raw));
    } catch (error) {
      return failure('malformed_body', (error as Error).message);
    }
  }
  if (!isObject(body)) return failure('malformed_body', 'Invalid body: expected a JSON object');
  const type = entry.context.type;
  const items = type ? [body] : body.batch;
  if (!Array.isArray(items)) return failure('malformed_body', `Invalid body: ${body.batch === undefined ? 'batch is required' : 'batch must be an array'}`);
  if (items.length > limits.maxBatchEvents) return failure('too_large', `Too many events in one batch: ${items.length} events; the limit is ${limits.maxBatchEvents}`);
  const shared = type ? undefined : applyBatchDefaults(body, items, limits.maxBodyBytes);
  if (shared) return failure(shared.code === Errors.bodyTooLarge.code ? 'too_large' : 'malformed_body', shared.message);
  const sentAt = isTimestamp(body.sentAt) ? body.sentAt : entry.context.sentAt;
  const events: StoredEvent[] = [];
  const errors: string[] = [];
  let reason: FailureReason | undefined;
  items.forEach((item, index) => {
    const one = build(item, body, derivedMessageId(entry.id, index), sentAt);
    if (one.ok) events.push(...one.events);
    else {
      reason ??= one.reason;
      errors.push(`event ${index}: ${one.errors.join('; ')}`);
    }
  });
  // A body is replayed whole or not at all: it stays one entry until every event in it passes.
  return reason ? failure(reason, ...errors) : { ok: true, events };
}
