// Which partition a keyed record goes to: Kafka's murmur2 of the key's bytes, as the client's
// default partitioner takes it (an unsigned 32-bit number, modulo the topic's partitions; Java's
// clients mask the sign bit instead, so for a negative hash they may pick another partition). One
// user's events must keep landing on one partition whichever Inlet version wrote them — the
// processor removes duplicates per partition — so the numbers are the client's, exactly.
//
// The client computes murmur2 with BigInt arithmetic: 0.75 µs for a 9-byte key and 1.3 µs for a
// uuid on this project's machine, paid for every event the server's producer thread sends and
// every record the processor writes. The same steps on 32-bit integers (Math.imul) take 0.08–0.09
// µs (bench/LOG.md, "2026-12-07, 03:15 UTC session").

const M = 0x5bd1e995;
const SEED = 0x9747b28c;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit number. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  let i = 0;
  for (; i < whole; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[i + 2] << 16;
    if (rest >= 2) h ^= data[i + 1] << 8;
    h ^= data[i];
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition the client's default partitioner picks for a key among `partitions`. */
export function defaultPartition(key: Uint8Array, partitions: number): number {
  return (murmur2(key) >>> 0) % partitions;
}

/**
 * A producer's `partitioner`: the client's default choice, computed as above. The client takes the
 * number modulo the topic's partitions itself. Records without a key (Inlet's always have one) are
 * spread round robin, over all topics together (the client counts per topic).
 */
export function keyPartitioner(): (message: unknown, key: Buffer | undefined) => number {
  let next = 0;
  return (_message, key) => (key === undefined ? next++ & 0x7fffffff : murmur2(key) >>> 0);
}
