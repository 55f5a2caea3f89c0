// How a normalized record is laid out on Kafka. The server's Kafka sink and the Node SDK's Kafka
// transport both call this, so a record looks the same whichever way it arrived.
import type { NormalizedRecord } from './event.ts';

export interface KafkaRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

export function partitionKey(record: Pick<NormalizedRecord, 'userId' | 'anonymousId'>): string {
  return record.userId ?? record.anonymousId ?? '';
}

/** `value` may be passed when the caller already serialized the record (the server does). */
export function toKafkaRecord(record: NormalizedRecord, value: string = JSON.stringify(record)): KafkaRecord {
  return {
    key: partitionKey(record),
    value,
    headers: { 'source-id': record.sourceId, 'event-type': record.type, 'message-id': record.messageId },
  };
}
