// The records between the Kafka sink and its producer thread: queued as rows, their values packed
// into one buffer that moves to the thread, read back there as the client's messages. What comes
// out must be what went in, byte for byte, whatever the values' characters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HEADERS } from '@inlet/kafka';
import { failedEventOf, type FailureContext } from '../src/failed/failed-event.ts';
import { packValues, RECORD_WIDTH, splitKafkaRows, toKafkaRows, toMessages } from '../src/sinks/kafka-producer-protocol.ts';
import { storedEvent } from './kafka-fixtures.ts';

const TOPICS = ['raw-events', 'failed-events'];

const context: FailureContext = {
  sourceId: 'src_protocol', receivedAtMs: Date.now(), route: '/v1/batch', ip: '203.0.113.0', sentAt: undefined,
  ipPolicy: 'full', type: undefined, keepClientIp: false, historical: false,
};

/** Packs `writes` as a send does and moves the buffer through a transfer, as postMessage would. */
function throughTheThread(writes: ReturnType<typeof toKafkaRows>[]) {
  const valueBytes = writes.reduce((n, w) => n + w.valueBytes, 0);
  const rows = writes.map((w) => w.rows);
  const values = packValues(rows, valueBytes);
  const moved = structuredClone({ writes: rows, values }, { transfer: [values] });
  assert.equal(values.byteLength, 0, 'the sender no longer holds the values');
  return toMessages(moved, TOPICS);
}

test("a send's records reach the thread as queued: keys, headers and every value byte for byte, across writes and topics", () => {
  const first = [storedEvent(1), storedEvent(2, { properties: { note: '𝄞 four bytes, ü two, € three' } })];
  const second = [storedEvent(3, { userId: null, anonymousId: 'anon-ä' })];
  const failed = [failedEventOf(context, { event: 'Bad ü€' }, 4, 'invalid', ['type is missing'])];
  const messages = throughTheThread([toKafkaRows(first, []), toKafkaRows(second, failed)]);

  const expected = [
    ...[...first, ...second].map(({ record, json }) => ({
      topic: 'raw-events', key: record.userId ?? record.anonymousId, value: json,
      headers: { [HEADERS.sourceId]: record.sourceId, [HEADERS.eventType]: record.type, [HEADERS.messageId]: record.messageId },
    })),
    ...failed.map(({ entry, json }) => ({
      topic: 'failed-events', key: entry.sourceId, value: json,
      headers: { 'source-id': entry.sourceId, reason: entry.reason, 'failed-id': entry.id },
    })),
  ];
  assert.deepEqual(messages.map((m) => ({
    topic: m.topic, key: m.key, value: (m.value as Buffer).toString('utf8'), headers: Object.fromEntries(m.headers as Map<string, string>),
  })), expected);
});

test('a value count that disagrees with the values is refused, not cut short or padded', () => {
  for (const off of [-10, -3, -1, 1]) {
    const { rows, valueBytes } = toKafkaRows([storedEvent(1), storedEvent(2, { event: '€€€' })], []);
    assert.throws(() => packValues([rows], valueBytes + off), /took \d+ bytes, not the \d+ counted/, `a count off by ${off}`);
  }
});

test("a request's size in a produce request counts its keys as well as its values", () => {
  const short = toKafkaRows([storedEvent(1, { userId: 'u' })], []);
  const long = toKafkaRows([storedEvent(1, { userId: 'u'.repeat(500) })], []);
  assert.equal(long.requestBytes - short.requestBytes, (long.valueBytes - short.valueBytes) + 499);
});

test('a request split for produce requests keeps every record once, in order, each part within the bound unless a record alone is larger', () => {
  const events = Array.from({ length: 40 }, (_, i) => storedEvent(i, { properties: { text: '€'.repeat(i * 10) } }));
  const failed = [failedEventOf(context, { event: 'x'.repeat(3000) }, 40, 'invalid', ['too large'])];
  const whole = toKafkaRows(events, failed);
  const maxBytes = 2500;
  const parts = splitKafkaRows(whole.rows, maxBytes);
  assert.ok(parts.length > 1);
  assert.deepEqual(parts.flatMap((p) => p.rows), whole.rows, 'the same rows, in order');
  assert.equal(parts.reduce((n, p) => n + p.valueBytes, 0), whole.valueBytes);
  assert.equal(parts.reduce((n, p) => n + p.requestBytes, 0), whole.requestBytes, 'counted as toKafkaRows counts');
  for (const part of parts) {
    const records = part.rows.length / RECORD_WIDTH;
    assert.ok(part.requestBytes <= maxBytes || records === 1, `a part of ${records} records and ${part.requestBytes} bytes`);
    // Each part packs and reaches the thread on its own.
    assert.equal(throughTheThread([part]).length, records);
  }
  assert.equal(parts.at(-1)!.rows.length, RECORD_WIDTH, 'the failed event larger than the bound goes alone');
});
