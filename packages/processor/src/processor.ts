// The processor: consume raw-events → decide → produce events, one Kafka transaction per batch
// that also carries the dedup state (changelog) and the input offsets. See README for the argument.
import { Admin, Consumer, murmur2, Producer, type MessageToProduce } from '@platformatic/kafka';
import type { Server } from 'node:http';
import { changelogMessages, createChangelogTopic, type ChangelogMessage } from './changelog.ts';
import { fetchCommitted, hasProtocolError, OffsetOutOfRangeError, type FetchedRecord, type PartitionFetch } from './committed-fetch.ts';
import { dedupIdentity } from './dedup-key.ts';
import type { DedupStore } from './dedup-store.ts';
import { ProcessorMetrics, startMetricsServer, type MetricsSnapshot } from './metrics.ts';
import { resolveOptions, type ProcessorOptions, type ResolvedOptions } from './options.ts';
import { listOffsets, RestoreCancelledError, restorePartitions } from './restore.ts';

type OutputMessage = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

interface PartitionState {
  store: DedupStore;
  /** next input offset to process; equals the offset committed by our last transaction */
  position: bigint;
  highWatermark: bigint;
}

interface Assignment {
  generationId: number;
  memberId: string;
  partitions: number[];
}

interface Advance {
  partition: number;
  next: bigint;
}

/** One transaction's worth: what to write, where each partition's position moves, the counts. */
interface Batch {
  changelog: ChangelogMessage[];
  outputs: OutputMessage[];
  advances: Advance[];
  consumed: number;
  duplicates: number;
  invalid: number;
}

interface Prefetch {
  assignment: Assignment | undefined;
  positions: Map<number, bigint>;
  result: Promise<PartitionFetch[] | Error>;
}

/** Each partition's batch in one produce request stays under the default 1 MB max.message.bytes. */
const MAX_PARTITION_BATCH_BYTES = 900 * 1024;
const READ_COMMITTED = 1;
const EARLIEST = -2n;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function sameAssignment(a: Assignment | undefined, b: Assignment | undefined): boolean {
  return a !== undefined && b !== undefined && a.generationId === b.generationId && a.memberId === b.memberId;
}

function samePositions(a: Map<number, bigint>, b: Map<number, bigint>): boolean {
  if (a.size !== b.size) return false;
  for (const [partition, offset] of a) if (b.get(partition) !== offset) return false;
  return true;
}

const headerNames = new Map<string, Buffer>();

function headerLookup(headers: [Buffer | null, Buffer | null][]): (name: string) => string | undefined {
  return (name) => {
    let wanted = headerNames.get(name);
    if (!wanted) headerNames.set(name, (wanted = Buffer.from(name, 'latin1')));
    for (const [key, value] of headers) if (key && value && key.equals(wanted)) return value.toString('utf8');
    return undefined;
  };
}

function passThrough(topic: string, record: FetchedRecord): OutputMessage {
  const headers = new Map<Buffer, Buffer>();
  for (const [key, value] of record.headers) if (key) headers.set(key, value ?? Buffer.alloc(0));
  return { topic, key: record.key ?? undefined, value: record.value ?? undefined, headers, timestamp: record.timestamp };
}

function messageBytes(message: OutputMessage): number {
  let bytes = 32 + (message.key?.length ?? 0) + (message.value?.length ?? 0);
  if (message.headers instanceof Map) for (const [k, v] of message.headers) bytes += k.length + v.length + 4;
  return bytes;
}

export class Processor {
  readonly options: ResolvedOptions;
  readonly metrics = new ProcessorMetrics();
  #admin: Admin | undefined;
  #consumer: Consumer | undefined;
  #producer: Producer<Buffer, Buffer, Buffer, Buffer> | undefined;
  #partitions = new Map<number, PartitionState>();
  #applied: Assignment | undefined;
  #latest: Assignment | undefined;
  #groupFailed = false;
  #stopping = false;
  #started = false;
  #loop: Promise<void> | undefined;
  #server: Server | undefined;
  #logTimer: NodeJS.Timeout | undefined;
  #metricsPort: number | undefined;
  #roundRobin = 0;

  constructor(options: ProcessorOptions) {
    this.options = resolveOptions(options);
    this.metrics.gauges = () => {
      let lag = 0n;
      let dedupKeys = 0;
      let dedupBytes = 0;
      for (const state of this.#partitions.values()) {
        if (state.highWatermark > state.position) lag += state.highWatermark - state.position;
        dedupKeys += state.store.size;
        dedupBytes += state.store.estimatedBytes;
      }
      return { lag: Number(lag), assignedPartitions: this.#partitions.size, dedupKeys, dedupBytes };
    };
  }

  /** The port of the metrics server, once started (useful with metricsPort 0). */
  get metricsPort(): number | undefined {
    return this.#metricsPort;
  }

  snapshot(): MetricsSnapshot {
    return this.metrics.snapshot();
  }

  /** Checks the topics, joins the group and starts processing; resolves once running. */
  async start(): Promise<void> {
    if (this.#started) throw new Error('Processor already started');
    this.#started = true;
    const o = this.options;
    const base = { bootstrapBrokers: o.brokers, retries: 5, retryDelay: 250 };
    this.#admin = new Admin({ ...base, clientId: `inlet-processor-admin-${o.instanceId}` });
    await this.#ensureTopics();
    this.#producer = await this.#createProducer();
    const consumer = new Consumer({
      ...base,
      clientId: `inlet-processor-${o.instanceId}`,
      groupId: o.groupId,
      autocommit: false,
      isolationLevel: READ_COMMITTED,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      rebalanceTimeout: o.rebalanceTimeoutMs,
      timeout: Math.max(o.fetchMaxWaitMs + 5000, 10_000),
    });
    this.#consumer = consumer;
    consumer.on('consumer:group:join', (payload) => {
      const assigned = payload.assignments?.find((a) => a.topic === o.inputTopic)?.partitions ?? [];
      this.#latest = { generationId: payload.generationId ?? consumer.generationId, memberId: payload.memberId, partitions: [...assigned].sort((a, b) => a - b) };
    });
    consumer.on('error', (error: Error) => {
      o.logger.warn('consumer group error; will rejoin', { error: error.message });
      this.#groupFailed = true;
    });
    consumer.topics.track(o.inputTopic);
    await consumer.joinGroup(this.#groupOptions());
    if (o.metricsPort !== undefined) {
      const { server, port } = await startMetricsServer(this.metrics, o.metricsPort, o.metricsHost, () => !this.#stopping && !this.#groupFailed);
      this.#server = server;
      this.#metricsPort = port;
    }
    if (o.logIntervalMs > 0) {
      this.#logTimer = setInterval(() => o.logger.info('processor counts', { ...this.metrics.snapshot() }), o.logIntervalMs);
      this.#logTimer.unref();
    }
    o.logger.info('processor started', { instanceId: o.instanceId, groupId: o.groupId, input: o.inputTopic, output: o.outputTopic, changelog: o.changelogTopic, windowMs: o.windowMs, metricsPort: this.#metricsPort });
    this.#loop = this.#run();
  }

  /** Finishes the transaction in flight, leaves the group (its partitions move at once) and closes. */
  async stop(): Promise<void> {
    if (this.#stopping) return this.#loop?.catch(() => undefined);
    this.#stopping = true;
    if (this.#logTimer) clearInterval(this.#logTimer);
    await this.#loop?.catch(() => undefined);
    const closing: Promise<unknown>[] = [];
    if (this.#consumer) closing.push(forceClose(this.#consumer));
    if (this.#producer) closing.push(forceClose(this.#producer));
    if (this.#admin) closing.push(this.#admin.close().catch(() => undefined));
    if (this.#server) closing.push(new Promise((resolve) => this.#server!.close(resolve)));
    await Promise.all(closing);
    this.options.logger.info('processor stopped', { ...this.metrics.snapshot() });
  }

  #groupOptions() {
    const o = this.options;
    return { sessionTimeout: o.sessionTimeoutMs, heartbeatInterval: o.heartbeatIntervalMs, rebalanceTimeout: o.rebalanceTimeoutMs };
  }

  async #ensureTopics(): Promise<void> {
    const o = this.options;
    const admin = this.#admin!;
    const existing = new Set(await admin.listTopics());
    for (const topic of [o.inputTopic, o.outputTopic]) {
      if (!existing.has(topic)) throw new Error(`topic ${topic} does not exist; create it first (topics are not auto-created)`);
    }
    const metadata = await admin.metadata({ topics: [o.inputTopic] });
    const inputPartitions = metadata.topics.get(o.inputTopic)!.partitionsCount;
    if (!existing.has(o.changelogTopic)) {
      if (!o.createChangelog) throw new Error(`changelog topic ${o.changelogTopic} does not exist and createChangelog is false`);
      try {
        await createChangelogTopic(admin, { topic: o.changelogTopic, partitions: inputPartitions, retentionMs: o.changelogRetentionMs, windowMs: o.windowMs });
        o.logger.info('created changelog topic', { topic: o.changelogTopic, partitions: inputPartitions });
      } catch (error) {
        // Another instance starting at the same time may have created it first.
        if (!hasProtocolError(error, 'TOPIC_ALREADY_EXISTS')) throw error;
      }
    }
    const changelog = await admin.metadata({ topics: [o.changelogTopic], forceUpdate: true });
    const changelogPartitions = changelog.topics.get(o.changelogTopic)!.partitionsCount;
    if (changelogPartitions !== inputPartitions) {
      throw new Error(`changelog topic ${o.changelogTopic} has ${changelogPartitions} partitions but ${o.inputTopic} has ${inputPartitions}; they must match`);
    }
  }

  /**
   * A fresh transactional producer, initialised at once: initialising fences every older producer
   * with our transactional id and ends its open transaction, which a restore must wait for.
   */
  async #createProducer(): Promise<Producer<Buffer, Buffer, Buffer, Buffer>> {
    const o = this.options;
    const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
      clientId: `inlet-processor-${o.instanceId}`,
      bootstrapBrokers: o.brokers,
      idempotent: true,
      transactionalId: o.transactionalId,
      // -1/-1 asks for a fresh producer id and epoch. The client's default (0/0) reads as "bump
      // producer 0, epoch 0", which the coordinator refuses with PRODUCER_FENCED as soon as the
      // transactional id was used before — that is, on every restart.
      producerId: -1n,
      producerEpoch: -1,
      timeout: o.transactionTimeoutMs,
      retries: 20,
      retryDelay: 250,
    });
    const transaction = await producer.beginTransaction();
    await transaction.cancel();
    return producer;
  }

  async #run(): Promise<void> {
    let failures = 0;
    // The next batch is fetched while the current transaction commits. It is only used when that
    // commit succeeded and the assignment did not move; otherwise it is dropped.
    let prefetch: Prefetch | undefined;
    while (!this.#stopping) {
      try {
        if (this.#groupFailed) {
          this.#groupFailed = false;
          await this.#consumer!.joinGroup(this.#groupOptions());
        }
        if (!sameAssignment(this.#applied, this.#latest)) {
          prefetch = undefined;
          await this.#applyAssignment();
        }
        if (this.#partitions.size === 0) {
          await sleep(100);
          continue;
        }
        const assignment = this.#applied;
        const fetched = prefetch && prefetch.assignment === assignment && samePositions(prefetch.positions, this.#positions()) ? await prefetch.result : await this.#fetch(this.#positions());
        prefetch = undefined;
        if (fetched instanceof Error) throw fetched;
        if (!sameAssignment(this.#applied, this.#latest)) continue;
        const batch = this.#decide(fetched);
        if (!batch) continue;
        const next = this.#positions();
        for (const { partition, next: offset } of batch.advances) next.set(partition, offset);
        prefetch = { assignment, positions: next, result: this.#fetch(next).catch((error: Error) => error) };
        await this.#commit(batch);
        this.#applyBatch(batch);
        failures = 0;
      } catch (error) {
        prefetch = undefined;
        if (this.#stopping) break;
        if (error instanceof OffsetOutOfRangeError) {
          await this.#skipToLogStart(error.partitions).catch(() => undefined);
          continue;
        }
        if (error instanceof RestoreCancelledError) continue;
        failures++;
        this.metrics.transactionFailures++;
        this.options.logger.warn('processing failed; restoring state from the changelog', { error: describe(error), failures });
        await this.#recover();
        await sleep(Math.min(100 * 2 ** Math.min(failures, 6), 5000));
      }
    }
  }

  #positions(): Map<number, bigint> {
    const positions = new Map<number, bigint>();
    for (const [partition, state] of this.#partitions) positions.set(partition, state.position);
    return positions;
  }

  #fetch(positions: Map<number, bigint>): Promise<PartitionFetch[]> {
    const o = this.options;
    return fetchCommitted(this.#consumer!, o.inputTopic, positions, { maxWaitTime: o.fetchMaxWaitMs, maxBytes: o.fetchMaxBytes, partitionMaxBytes: o.partitionMaxBytes });
  }

  async #applyAssignment(): Promise<void> {
    const next = this.#latest!;
    const previous = this.#applied;
    // Keep the state of a partition we still own only when no one else can have owned it in
    // between: the very next generation, same member, and our last transaction known committed.
    const continuous = previous !== undefined && next.generationId === previous.generationId + 1 && next.memberId === previous.memberId;
    for (const partition of [...this.#partitions.keys()]) {
      if (!continuous || !next.partitions.includes(partition)) this.#partitions.delete(partition);
    }
    const toRestore = next.partitions.filter((p) => !this.#partitions.has(p));
    this.options.logger.info('partitions assigned', { generationId: next.generationId, partitions: next.partitions, restoring: toRestore });
    const restored = await restorePartitions({ admin: this.#admin!, consumer: this.#consumer!, options: this.options, cancelled: () => this.#stopping || this.#latest !== next }, toRestore);
    for (const r of restored) {
      this.#partitions.set(r.partition, { store: r.store, position: r.position, highWatermark: r.position });
      this.metrics.restores++;
      this.metrics.changelogEntriesRestored += r.changelogEntries;
    }
    this.#applied = next;
  }

  /** Decides a fetched batch against the dedup state; undefined when no position moves. */
  #decide(fetched: PartitionFetch[]): Batch | undefined {
    const o = this.options;
    const changelog: ChangelogMessage[] = [];
    const outputs: OutputMessage[] = [];
    const advances: Advance[] = [];
    let budget = o.maxBatchRecords;
    let consumed = 0;
    let duplicates = 0;
    let invalid = 0;
    const now = Date.now();
    for (const f of fetched) {
      const state = this.#partitions.get(f.partition);
      if (!state) continue;
      state.highWatermark = f.highWatermark;
      let records = f.records;
      let next = f.nextOffset;
      if (records.length > budget) {
        records = records.slice(0, budget);
        next = budget > 0 ? records[budget - 1].offset + 1n : state.position;
      }
      budget -= records.length;
      const keys: string[] = [];
      const receivedAts: number[] = [];
      for (const record of records) {
        consumed++;
        const identity = dedupIdentity(record.value, headerLookup(record.headers), Number(record.timestamp));
        if (!identity) {
          invalid++;
          outputs.push(passThrough(o.outputTopic, record));
          continue;
        }
        if (state.store.decide(identity.key, identity.receivedAt, now)) {
          duplicates++;
          continue;
        }
        outputs.push(passThrough(o.outputTopic, record));
        keys.push(identity.key);
        receivedAts.push(identity.receivedAt);
      }
      if (next > state.position) {
        changelog.push(...changelogMessages(o.changelogTopic, f.partition, keys, receivedAts, state.store.watermark));
        advances.push({ partition: f.partition, next });
      }
    }
    if (advances.length === 0) return undefined;
    return { changelog, outputs, advances, consumed, duplicates, invalid };
  }

  /** After the commit: positions move, old entries go, counters count. */
  #applyBatch(batch: Batch): void {
    for (const { partition, next } of batch.advances) {
      const state = this.#partitions.get(partition)!;
      state.position = next;
      state.store.evict();
    }
    this.metrics.consumed += batch.consumed;
    this.metrics.produced += batch.outputs.length;
    this.metrics.duplicatesDropped += batch.duplicates;
    this.metrics.invalidPassedThrough += batch.invalid;
    this.metrics.transactions++;
  }

  async #commit({ changelog, outputs, advances }: Batch): Promise<void> {
    const consumer = this.#consumer!;
    const assignment = this.#applied!;
    const transaction = await this.#producer!.beginTransaction();
    // The changelog goes first: it must be on the broker before the offsets are added (restore.ts).
    // Partitions are chosen here (the client's default murmur2 partitioner, so keys land where they
    // would anyway) to cut the writes into requests of up to ~900 KB per partition.
    const outputPartitions = (await consumer.metadata({ topics: [this.options.outputTopic] })).topics.get(this.options.outputTopic)!.partitionsCount;
    let chunk: OutputMessage[] = [];
    let partitionBytes = new Map<string, number>();
    for (const message of [...changelog, ...outputs]) {
      if (message.partition === undefined) message.partition = message.key ? (murmur2(message.key) >>> 0) % outputPartitions : this.#roundRobin++ % outputPartitions;
      const target = `${message.topic}:${message.partition}`;
      const bytes = messageBytes(message);
      const before = partitionBytes.get(target) ?? 0;
      if (before > 0 && before + bytes > MAX_PARTITION_BATCH_BYTES) {
        await transaction.send({ messages: chunk });
        chunk = [];
        partitionBytes = new Map();
      }
      chunk.push(message);
      partitionBytes.set(target, (partitionBytes.get(target) ?? 0) + bytes);
    }
    if (chunk.length > 0) await transaction.send({ messages: chunk });
    await transaction.addConsumer(consumer);
    const coordinatorId = consumer.coordinatorId ?? (await consumer.findGroupCoordinator());
    for (const { partition, next } of advances) {
      // addOffset commits message.offset + 1 for the message's group generation and member, which
      // is what fences a zombie: the coordinator rejects offsets from a generation that moved on.
      await transaction.addOffset({
        topic: this.options.inputTopic,
        partition,
        offset: next - 1n,
        metadata: { consumer: { groupId: consumer.groupId, generationId: assignment.generationId, memberId: assignment.memberId, coordinatorId } },
      } as any);
    }
    await transaction.commit();
  }

  /** After a failure nothing in memory can be trusted: fence the old producer and restore. */
  async #recover(): Promise<void> {
    this.#partitions.clear();
    this.#applied = undefined;
    const old = this.#producer;
    this.#producer = undefined;
    if (old) await forceClose(old);
    for (;;) {
      try {
        this.#producer = await this.#createProducer();
        return;
      } catch (error) {
        if (this.#stopping) return;
        this.options.logger.warn('could not initialise the transactional producer; retrying', { error: describe(error) });
        await sleep(1000);
      }
    }
  }

  async #skipToLogStart(partitions: number[]): Promise<void> {
    const starts = await listOffsets(this.#admin!, this.options.inputTopic, partitions, EARLIEST, READ_COMMITTED);
    for (const p of partitions) {
      const state = this.#partitions.get(p);
      const start = starts.get(p);
      if (state && start !== undefined && start > state.position) {
        this.options.logger.warn('input records were deleted by retention before they were processed', { partition: p, from: String(state.position), to: String(start) });
        state.position = start;
      }
    }
  }
}

/** Closes a client even with work in flight; errors on close are of no use to anyone. */
function forceClose(client: { close(force: boolean, callback: (error?: Error | null) => void): void }): Promise<void> {
  return new Promise((resolve) => client.close(true, () => resolve()));
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = (error as any).errors as Error[] | undefined;
  return inner?.length ? `${error.message} (${inner.map((e) => e.message).join('; ')})` : error.message;
}
