// Runs in a worker thread: the Kafka sink's producer. Laying records out as Kafka's record batches
// (varints, CRC32C, lz4) and holding them until all in-sync replicas acknowledge cost the main
// thread more than the rest of a request (bench/LOG.md, "Kafka W1: the garbage collector's
// share"): here they cost a core the main thread does not need to wait for, and what waits ~100 ms
// for its acknowledgement lives in this thread's heap, not in the one whose scavenges delay every
// request. The values arrive as bytes in a buffer of their own (kafka-producer-protocol.ts), so
// what this heap keeps meanwhile is small.
import { parentPort, workerData } from 'node:worker_threads';
import { describeError, KafkaWriter } from '@inlet/kafka';
import { toMessages, type ProducerThreadOptions, type ProducerThreadReply, type ProducerThreadRequest } from './kafka-producer-protocol.ts';

const options = workerData as ProducerThreadOptions;
const writer = new KafkaWriter(options.writer);
const port = parentPort!;
const reply = (message: ProducerThreadReply) => port.postMessage(message);

port.on('message', (request: ProducerThreadRequest) => {
  if (request.kind === 'close') {
    // Closing the producers fails the sends still in flight; whatever has not answered when this
    // thread exits, the main thread fails then.
    void writer.close().finally(() => port.close());
    return;
  }
  const { id } = request;
  writer.send(toMessages(request, options.topics), request.deadlineMs).then(
    () => reply({ kind: 'sent', id }),
    (error: unknown) => reply({ kind: 'failed', id, error: describeError(error) }),
  );
});
