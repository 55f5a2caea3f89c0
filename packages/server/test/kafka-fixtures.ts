// Events and a steady writer for the Kafka sink tests.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readAll } from '@inlet/testkit';
import type { NormalizedRecord } from '@inlet/schema';
import { SinkUnavailableError } from '../src/errors.ts';
import type { Sink, StoredEvent } from '../src/sinks/sink.ts';

export function storedEvent(n: number, overrides: Partial<NormalizedRecord> = {}): StoredEvent {
  const now = new Date().toISOString();
  const record: NormalizedRecord = {
    type: 'track',
    event: 'order_completed',
    messageId: randomUUID(),
    userId: `user-${n % 7}`,
    anonymousId: `anon-${n}`,
    sourceId: 'src_kafka_test',
    receivedAt: now,
    timestamp: now,
    originalTimestamp: now,
    context: { ip: '203.0.113.0', library: { name: 'test' } },
    properties: { n, total: n * 1.5, note: 'ü€ unicode survives' },
    ...overrides,
  };
  return { record, json: JSON.stringify(record) };
}

export interface WriteLog {
  /** messageIds whose write() resolved */
  acked: Set<string>;
  rejected: number;
  /** errors other than SinkUnavailableError (there should be none) */
  unexpected: Error[];
  stop(): Promise<void>;
}

/** `workers` loops, each writing `batch` events at a time until stop(); pauses briefly after a rejection. */
export function writeContinuously(sink: Sink, { workers = 4, batch = 5 } = {}): WriteLog {
  const log: WriteLog = { acked: new Set(), rejected: 0, unexpected: [], stop: async () => {} };
  let running = true;
  let n = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const events = Array.from({ length: batch }, () => storedEvent(n++));
      try {
        await sink.write(events);
        for (const e of events) log.acked.add(e.record.messageId);
      } catch (error) {
        if (error instanceof SinkUnavailableError) log.rejected++;
        else log.unexpected.push(error as Error);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });
  log.stop = async () => {
    running = false;
    await Promise.all(loops);
  };
  return log;
}

/** Polls until `check` holds; throws with `what` after `timeoutMs`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The check every Kafka durability test ends with: each write() that resolved is on the topic. */
export async function assertAcknowledgedInTopic(log: WriteLog, brokers: string[], topic: string): Promise<void> {
  assert.deepEqual(log.unexpected, [], 'every failure is a SinkUnavailableError');
  const inTopic = new Set((await readAll(brokers, topic)).map((r) => r.headers['message-id']));
  const missing = [...log.acked].filter((id) => !inTopic.has(id));
  assert.deepEqual(missing, [], `${missing.length} of ${log.acked.size} acknowledged events are missing`);
}
