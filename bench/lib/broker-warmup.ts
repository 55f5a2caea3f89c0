// A broker the run has just started runs its JVM's interpreter for the first tens of seconds: in
// one measurement its CPU for the same 13 s cell went 7.0 s, 4.3 s, 2.4 s, 1.9 s over four runs
// in a row. Whichever Kafka cell ran first would pay for that, so a fresh broker gets this much
// produce traffic — small idempotent acks=all batches, lz4 and gzip, like the servers send —
// before anything is measured. A production broker is long past this point.
import { randomBytes } from 'node:crypto';
import { createIdempotentProducer, forceClose } from '@inlet/kafka';
import { createTopic, deleteTopic } from './kafka-broker.ts';

const PRODUCERS = [['lz4', 3], ['gzip', 1]] as const;
const BATCH = 20;

export async function warmBroker(bootstrap: string, seconds: number, log: (line: string) => void): Promise<void> {
  const topic = `bench-warmup-${Date.now()}`;
  await createTopic(bootstrap, topic, 12);
  const value = randomBytes(256).toString('hex');
  const deadline = Date.now() + seconds * 1000;
  const perSecond: number[] = [];
  const started = Date.now();
  const loops = PRODUCERS.flatMap(([compression, count]) => Array.from({ length: count }, async () => {
    const producer = createIdempotentProducer({ brokers: bootstrap, clientId: 'inlet-bench-warmup', compression, retries: 3 });
    try {
      while (Date.now() < deadline) {
        const messages = Array.from({ length: BATCH }, () => ({ topic, key: randomBytes(6).toString('hex'), value }));
        await producer.send({ messages });
        const second = Math.floor((Date.now() - started) / 1000);
        perSecond[second] = (perSecond[second] ?? 0) + BATCH;
      }
    } finally {
      await forceClose(producer);
    }
  }));
  try {
    await Promise.all(loops);
  } finally {
    await deleteTopic(bootstrap, topic);
  }
  const rate = (from: number, to: number) => Math.round(perSecond.slice(from, to).reduce((a, b) => a + (b ?? 0), 0) / Math.max(1, to - from));
  log(`Kafka: broker warmed up for ${seconds} s (${rate(0, 3)} records/s in the first 3 s, ${rate(seconds - 3, seconds)} in the last 3 s)`);
}
