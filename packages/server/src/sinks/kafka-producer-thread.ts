// Runs in a worker thread: the Kafka sink's producer. Laying records out as Kafka's record batches
// (varints, CRC32C, lz4) and holding them until all in-sync replicas acknowledge cost the main
// thread more than the rest of a request (BENCHMARKS.md, "Kafka W1: the garbage collector's
// share"): here they cost a core the main thread does not need to wait for, and what waits ~100 ms
// for its acknowledgement lives in this thread's heap, not in the one whose scavenges delay every
// request. The values arrive as bytes in a buffer of their own (kafka-producer-protocol.ts), so
// what this heap keeps meanwhile is small.
import { parentPort, workerData } from 'node:worker_threads';
import { describeError, HEADERS, KafkaWriter, type StringMessage } from '@inlet/kafka';
import { FAILED_HEADER_NAMES, RECORD_WIDTH, type KafkaRows, type ProducerThreadOptions, type ProducerThreadReply, type ProducerThreadRequest } from './kafka-producer-protocol.ts';

const options = workerData as ProducerThreadOptions;
const writer = new KafkaWriter(options.writer);
/** header names per topic index */
const headerNames = [[HEADERS.sourceId, HEADERS.eventType, HEADERS.messageId], FAILED_HEADER_NAMES];
const port = parentPort!;
const reply = (message: ProducerThreadReply) => port.postMessage(message);

function toMessages(writes: KafkaRows[], values: ArrayBuffer): StringMessage[] {
  const messages: StringMessage[] = [];
  let valueStart = 0;
  for (const rows of writes) {
    for (let i = 0; i < rows.length; i += RECORD_WIDTH) {
      const topic = rows[i] as number;
      const valueEnd = rows[i + 2] as number;
      const [a, b, c] = headerNames[topic];
      messages.push({
        topic: options.topics[topic]!,
        key: rows[i + 1] as string,
        value: Buffer.from(values, valueStart, valueEnd - valueStart),
        headers: new Map<string, string>().set(a, rows[i + 3] as string).set(b, rows[i + 4] as string).set(c, rows[i + 5] as string),
      });
      valueStart = valueEnd;
    }
  }
  return messages;
}

port.on('message', (request: ProducerThreadRequest) => {
  if (request.kind === 'close') {
    // Closing the producers fails the sends still in flight; whatever has not answered when this
    // thread exits, the main thread fails then.
    void writer.close().finally(() => port.close());
    return;
  }
  const { id } = request;
  writer.send(toMessages(request.writes, request.values), request.deadlineMs).then(
    () => reply({ kind: 'sent', id }),
    (error: unknown) => reply({ kind: 'failed', id, error: describeError(error) }),
  );
});
