// The processor's run loop: join the group, restore what newly owned partitions remember, then
// fetch → decide (decide.ts) → commit one transaction (transaction.ts), over and over; after any
// failure, fence the old producer and restore. See README for why that is exactly once.
import {
  createAdmin, createGroupConsumer, createTransactionalProducer, describeError, describeTopicConfigs, fetchCommitted, forceClose, growTopic, hasProtocolError, OffsetOutOfRangeError, setTopicConfigs,
  type BufferProducer, type PartitionFetch,
} from '@inlet/kafka';
import type { Admin, Consumer } from '@platformatic/kafka';
import type { Server } from 'node:http';
import { changelogConfigs, createChangelogTopic } from './changelog.ts';
import { applyBatch, decideBatch, type PartitionState } from './decide.ts';
import { ProcessorMetrics, startMetricsServer, type MetricsSnapshot } from './metrics.ts';
import { resolveOptions, type ProcessorOptions, type ResolvedOptions } from './options.ts';
import { listOffsets, RestoreCancelledError, restorePartitions } from './restore.ts';
import { commitBatch } from './transaction.ts';

interface Assignment {
  generationId: number;
  memberId: string;
  partitions: number[];
}

interface Prefetch {
  assignment: Assignment | undefined;
  positions: Map<number, bigint>;
  result: Promise<PartitionFetch[] | Error>;
}

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

export class Processor {
  readonly options: ResolvedOptions;
  readonly metrics = new ProcessorMetrics();
  #admin: Admin | undefined;
  #consumer: Consumer | undefined;
  #producer: BufferProducer | undefined;
  #partitions = new Map<number, PartitionState>();
  /** partitions the changelog has (as far as this instance knows) */
  #changelogPartitions = 0;
  #applied: Assignment | undefined;
  #latest: Assignment | undefined;
  #groupFailed = false;
  #stopping = false;
  #started = false;
  #loop: Promise<void> | undefined;
  #server: Server | undefined;
  #logTimer: NodeJS.Timeout | undefined;
  #metricsPort: number | undefined;

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
    const client = { brokers: o.brokers, security: o.security, retries: 5, retryDelayMs: 250 };
    this.#admin = createAdmin({ ...client, clientId: `inlet-processor-admin-${o.instanceId}` });
    await this.#ensureTopics();
    this.#producer = await this.#createProducer();
    const consumer = createGroupConsumer({
      ...client,
      clientId: `inlet-processor-${o.instanceId}`,
      groupId: o.groupId,
      // Static membership: this instance's death pauses no one else, and its restart within the
      // session timeout takes its partitions back without a rebalance.
      instanceId: o.instanceId,
      sessionTimeoutMs: o.sessionTimeoutMs,
      heartbeatIntervalMs: o.heartbeatIntervalMs,
      rebalanceTimeoutMs: o.rebalanceTimeoutMs,
      requestTimeoutMs: Math.max(o.fetchMaxWaitMs + 5000, 10_000),
    });
    this.#consumer = consumer;
    consumer.on('consumer:group:join', (payload) => {
      const assigned = payload.assignments?.find((a) => a.topic === o.inputTopic)?.partitions ?? [];
      this.#latest = { generationId: payload.generationId ?? consumer.generationId, memberId: payload.memberId, partitions: [...assigned].sort((a, b) => a - b) };
    });
    consumer.on('error', (error: Error) => {
      o.logger.warn('consumer group error; will rejoin', { error: describeError(error) });
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
    // A commit that failed while stopping (the group rebalancing as the others stop) leaves its
    // transaction open, and an open transaction holds back every read_committed reader of the
    // output until the broker times it out (transaction timeout plus its cleanup interval): end it.
    const open = this.#producer?.transaction;
    if (open && !open.completed) await open.abort().catch(() => undefined);
    const closing: Promise<unknown>[] = [];
    if (this.#consumer) closing.push(forceClose(this.#consumer));
    if (this.#producer) closing.push(forceClose(this.#producer));
    if (this.#admin) closing.push(forceClose(this.#admin));
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
    if (changelogPartitions > inputPartitions) {
      throw new Error(`changelog topic ${o.changelogTopic} has ${changelogPartitions} partitions but ${o.inputTopic} has ${inputPartitions}; they must match`);
    }
    this.#changelogPartitions = changelogPartitions;
    await this.#changelogCovers(inputPartitions - 1);
    await this.#keepChangelogLongEnough();
  }

  /**
   * Changelog partition p holds input partition p's memory: an input topic given more partitions
   * (at runtime too) gets as many in its changelog, new and empty like the input's, or restoring
   * one of them would fail on every try, and with it every partition of this instance.
   */
  async #changelogCovers(highestPartition: number): Promise<void> {
    if (highestPartition < this.#changelogPartitions) return;
    const o = this.options;
    const input = await this.#admin!.metadata({ topics: [o.inputTopic], forceUpdate: true });
    const count = Math.max(highestPartition + 1, input.topics.get(o.inputTopic)!.partitionsCount);
    await growTopic(this.#admin!, o.changelogTopic, count);
    o.logger.warn('the input topic has more partitions: the changelog now has as many', { topic: o.changelogTopic, from: this.#changelogPartitions, to: count });
    this.#changelogPartitions = count;
  }

  /**
   * A changelog made for a shorter window (or by hand) may drop entries the window still needs:
   * after a restart, repeats within the window would pass. Its retention is raised to what this
   * run asks (never lowered: another instance may run with a longer window).
   */
  async #keepChangelogLongEnough(): Promise<void> {
    const o = this.options;
    let configs: Map<string, string>;
    try {
      configs = await describeTopicConfigs(this.#admin!, o.changelogTopic, ['retention.ms']);
    } catch (error) {
      // A cluster whose ACLs do not let this principal read topic configs: said, not fatal.
      o.logger.warn('cannot read the changelog\'s retention; make sure it is at least the window', { topic: o.changelogTopic, neededMs: o.changelogRetentionMs, error: describeError(error) });
      return;
    }
    const retentionMs = Number(configs.get('retention.ms') ?? -1);
    if (retentionMs < 0 || retentionMs >= o.changelogRetentionMs) return;
    const wanted = Object.fromEntries(changelogConfigs({ topic: o.changelogTopic, partitions: 0, retentionMs: o.changelogRetentionMs, windowMs: o.windowMs }).map(({ name, value }) => [name, value]));
    try {
      await setTopicConfigs(this.#admin!, o.changelogTopic, { 'retention.ms': wanted['retention.ms'], 'segment.ms': wanted['segment.ms'] });
    } catch (error) {
      o.logger.warn('the changelog keeps less than the window needs, and its retention cannot be raised from here; raise it', { topic: o.changelogTopic, retentionMs, neededMs: o.changelogRetentionMs, error: describeError(error) });
      return;
    }
    // Two instances starting at once with different windows: the longer one's setting may be written first; a later start repairs it.
    o.logger.warn('raised the changelog\'s retention to the window', { topic: o.changelogTopic, fromMs: retentionMs, toMs: o.changelogRetentionMs });
  }

  /** A fresh transactional producer with our transactional id; creating it fences every older one. */
  #createProducer(): Promise<BufferProducer> {
    const o = this.options;
    return createTransactionalProducer({
      brokers: o.brokers,
      security: o.security,
      clientId: `inlet-processor-${o.instanceId}`,
      transactionalId: o.transactionalId,
      requestTimeoutMs: o.transactionTimeoutMs,
      retries: 20,
      retryDelayMs: 250,
    });
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
        const assignment = this.#applied!;
        const fetched = prefetch && prefetch.assignment === assignment && samePositions(prefetch.positions, this.#positions()) ? await prefetch.result : await this.#fetch(this.#positions());
        prefetch = undefined;
        if (fetched instanceof Error) throw fetched;
        if (!sameAssignment(this.#applied, this.#latest)) continue;
        const o = this.options;
        const batch = decideBatch(fetched, this.#partitions, { outputTopic: o.outputTopic, changelogTopic: o.changelogTopic, maxBatchRecords: o.maxBatchRecords }, Date.now());
        if (!batch) continue;
        const next = this.#positions();
        for (const { partition, next: offset } of batch.advances) next.set(partition, offset);
        prefetch = { assignment, positions: next, result: this.#fetch(next).catch((error: Error) => error) };
        await commitBatch(this.#producer!, this.#consumer!, batch, { inputTopic: o.inputTopic, outputTopic: o.outputTopic, membership: assignment });
        applyBatch(batch, this.#partitions);
        this.#count(batch);
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
        this.options.logger.warn('processing failed; restoring state from the changelog', { error: describeError(error), failures });
        await this.#recover();
        await sleep(Math.min(100 * 2 ** Math.min(failures, 6), 5000));
      }
    }
  }

  #count(batch: { consumed: number; outputs: unknown[]; duplicates: number; invalid: number }): void {
    this.metrics.consumed += batch.consumed;
    this.metrics.produced += batch.outputs.length;
    this.metrics.duplicatesDropped += batch.duplicates;
    this.metrics.invalidPassedThrough += batch.invalid;
    this.metrics.transactions++;
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
    await this.#changelogCovers(Math.max(-1, ...next.partitions));
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
        this.options.logger.warn('could not initialise the transactional producer; retrying', { error: describeError(error) });
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
