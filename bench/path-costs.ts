// What each part of the per-event path costs alone, in CPU µs per event (issue 17): the JSON parse
// of a W1 body (alone, and with the server's scan for numbers a double cannot hold), envelope
// validation, normalization, serialization of the record, the hand-off to the SQLite thread and to
// the Kafka producer thread, the SQLite insert with its unique index (as the writer does it, and as
// one multi-row statement per request), the Kafka record batch encoding with no compression, lz4
// and zstd, and HTTP itself (the ceiling server: Fastify parsing the body and answering, measured
// as a process under load). Beside the HTTP cells' CPU µs/event this says which part sets the floor.
//
// In-process parts: CPU time of this process (process.cpuUsage), parts alternating over several
// rounds, each part's median shown; a busy machine stretches the wall clock, much less the CPU.
//
//   node --import tsx bench/path-costs.ts [--seconds 1] [--rounds 5] [--no-http]
//   npm run bench -- --suite path-costs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRecordsBatch, type MessageRecord } from '@platformatic/kafka';
import { createNormalizer, newMessageId, validateEvent, type InletEvent, type NormalizedRecord } from '@inlet/schema';
import { openDatabase } from '../packages/server/src/db/database.ts';
import { parseJsonText } from '../packages/server/src/numbers.ts';
import { packValues, toKafkaRows, toMessages } from '../packages/server/src/sinks/kafka-producer-protocol.ts';
import { cpuMicrosPerEvent, withCellServer } from './http/harness.ts';
import { runLoad } from './http/run-load.ts';
import { SERVERS } from './http/servers.ts';
import { bodyTemplate, WORKLOADS } from './http/workloads.ts';

interface SuiteOptions {
  quick?: boolean;
  log?(line: string): void;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** CPU µs per event of `step` (which handles `events` events per call), run for about `seconds` of CPU. */
function measure(step: () => void, events: number, seconds: number): number {
  let done = 0;
  const start = process.cpuUsage();
  let used = 0;
  while (used < seconds * 1e6) {
    step();
    done += events;
    const now = process.cpuUsage(start);
    used = now.user + now.system;
  }
  return used / done;
}

const KAFKA_COMPRESSIONS = ['none', 'lz4', 'zstd'] as const;
/** Making the SQLite parts' rows (fresh ids each time, or the unique index would skip them): measured apart and taken off theirs. */
const BUILD_ROWS = 'building the rows with new ids (not on the path; subtracted from the SQLite rows)';

export async function run(options: SuiteOptions = {}, args: { seconds?: number; rounds?: number; http?: boolean } = {}): Promise<{ markdown: string; perEvent: Record<string, number> }> {
  const log = options.log ?? console.error;
  const seconds = args.seconds ?? (options.quick ? 0.4 : 1);
  const rounds = args.rounds ?? (options.quick ? 3 : 5);

  const template = bodyTemplate(WORKLOADS.W1, 'v7');
  const bodies = Array.from({ length: 16 }, () => template.render());
  const w2Bodies = Array.from({ length: 16 }, () => bodyTemplate(WORKLOADS.W2, 'v7').render());
  const parsed = (JSON.parse(bodies[0]) as { batch: Record<string, unknown>[] }).batch;
  const events = parsed.map((e) => {
    const v = validateEvent(e);
    if (!v.ok) throw new Error(`a W1 event is invalid: ${v.errors.join('; ')}`);
    return v.event;
  });
  const receivedAtMs = Date.now();
  const enrichment = { sourceId: 'src_bench_path', receivedAtMs, ip: '203.0.113.9', ipPolicy: 'full' as const, sentAt: new Date(receivedAtMs).toISOString() };
  const normalizeAll = (list: InletEvent[]) => { const normalize = createNormalizer(enrichment); return list.map((e) => normalize(e)); };
  const records = normalizeAll(events);
  const jsons = records.map((r) => JSON.stringify(r));
  const stored = records.map((record, i) => ({ record: record as NormalizedRecord, json: jsons[i] }));
  const size = jsons.reduce((n, j) => n + Buffer.byteLength(j), 0) / jsons.length;
  // Rows as the writer sends them to its thread: sourceId, messageId, receivedAtMs, body, laid end to end.
  const flatRows = (ids: () => string) => records.flatMap((r, i) => [r.sourceId, ids(), receivedAtMs, jsons[i]]);

  // SQLite with the real schema (migrations), WAL, synchronous=FULL, as the writer thread opens it.
  const dir = mkdtempSync(join(tmpdir(), 'inlet-path-costs-'));
  const db = openDatabase(join(dir, 'inlet.db'));
  db.pragma('wal_autocheckpoint = 0');
  const insertOne = db.prepare('INSERT OR IGNORE INTO events (source_id, message_id, received_at, body) VALUES (?, ?, ?, ?)');
  const insertMany = db.prepare(`INSERT OR IGNORE INTO events (source_id, message_id, received_at, body) VALUES ${Array(records.length).fill('(?, ?, ?, ?)').join(', ')}`);
  // A group commit of 10 W1 requests, each request's 100 rows inserted row by row (as the writer does) or as one statement.
  const GROUP = 10;
  const perRow = db.transaction((rows: (string | number)[][]) => {
    for (const r of rows) for (let i = 0; i < r.length; i += 4) insertOne.run(r[i], r[i + 1], r[i + 2], r[i + 3]);
  });
  const perRequest = db.transaction((rows: (string | number)[][]) => {
    for (const r of rows) insertMany.run(r);
  });
  const groups = () => Array.from({ length: GROUP }, () => flatRows(newMessageId));
  let checkpoints = 0;
  const checkpoint = () => { if (++checkpoints % 20 === 0) db.pragma('wal_checkpoint(TRUNCATE)'); };

  // Kafka: the record batch of one W1 request (100 records), as the producer thread builds it: the
  // sink's messages as the thread reads them back (toMessages), then the client's serializers
  // (header names encoded once, the key and header values each time, the values as they are).
  const headerNames = new Map<string, Buffer>();
  const nameBytes = (name: string) => headerNames.get(name) ?? headerNames.set(name, Buffer.from(name)).get(name)!;
  const sent = toKafkaRows(stored, []);
  const threadMessages = toMessages({ writes: [sent.rows], values: packValues([sent.rows], sent.valueBytes) }, ['raw-events']);
  const kafkaMessages = (): MessageRecord[] => threadMessages.map(({ topic, key, value, headers }) => ({
    topic, key: Buffer.from(key!), value: value as Buffer, headers: new Map([...headers as Map<string, string>].map(([k, v]) => [nameBytes(k), Buffer.from(v)])),
  }));
  const batchBytes: Record<string, number> = {};
  for (const compression of KAFKA_COMPRESSIONS) {
    batchBytes[compression] = createRecordsBatch(kafkaMessages(), { compression, producerId: 1n, producerEpoch: 0, firstSequence: 0 }).length / records.length;
  }

  let sink = 0;
  let bodyAt = 0;
  const parts: [string, () => void, number][] = [
    ['JSON.parse of the body (W1, ~53 KB)', () => { sink += (JSON.parse(bodies[bodyAt++ % bodies.length]) as { batch: unknown[] }).batch.length; }, records.length],
    ['the same body as the server parses it: JSON.parse and the scan for numbers a double cannot hold (parseJsonText)', () => { sink += (parseJsonText(bodies[bodyAt++ % bodies.length]) as { batch: unknown[] }).batch.length; }, records.length],
    ['JSON.parse of the body (W2, one event)', () => { sink += Object.keys(JSON.parse(w2Bodies[bodyAt++ % w2Bodies.length]) as object).length; }, 1],
    ['envelope validation (validateEvent)', () => { for (const e of parsed) sink += validateEvent(e).ok ? 1 : 0; }, parsed.length],
    ['normalization (createNormalizer per request + normalize)', () => { sink += normalizeAll(events).length; }, events.length],
    ['serialization of the record (JSON.stringify)', () => { for (const r of records) sink += JSON.stringify(r).length; }, records.length],
    ['hand-off to the SQLite thread (structured clone of the flat rows)', () => { sink += (structuredClone(flatRows(() => 'x')) as unknown[]).length; }, records.length],
    ['hand-off to the Kafka producer thread (the rows, their values packed into one buffer; the rest cloned)', () => {
      const { rows, valueBytes } = toKafkaRows(stored, []);
      sink += packValues([rows], valueBytes).byteLength + (structuredClone(rows) as unknown[]).length;
    }, records.length],
    [BUILD_ROWS, () => { sink += groups().length; }, records.length * GROUP],
    ['SQLite insert with the unique index, row by row, 1,000-row commit with fsync', () => { perRow(groups()); checkpoint(); }, records.length * GROUP],
    ['SQLite insert, one 100-row statement per request, 1,000-row commit with fsync', () => { perRequest(groups()); checkpoint(); }, records.length * GROUP],
    ...KAFKA_COMPRESSIONS.map((compression): [string, () => void, number] => [
      `Kafka: record layout + record batch encoding, ${compression === 'none' ? 'no compression' : compression}`,
      () => { sink += createRecordsBatch(kafkaMessages(), { compression, producerId: 1n, producerEpoch: 0, firstSequence: 0 }).length; },
      records.length,
    ]),
  ];

  const samples = new Map<string, number[]>(parts.map(([name]) => [name, []]));
  try {
    for (const [, step, n] of parts) measure(step, n, seconds / 4); // JIT warm-up
    for (let round = 0; round < rounds; round++) {
      for (const [name, step, n] of parts) samples.get(name)!.push(measure(step, n, seconds));
      log(`path costs round ${round + 1}/${rounds}: ${parts.map(([name]) => `${name.split(' (')[0].split(',')[0]} ${samples.get(name)!.at(-1)!.toFixed(2)}`).join('; ')}`);
    }
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
  if (sink === 0) throw new Error('nothing was measured');
  const perEvent: Record<string, number> = Object.fromEntries([...samples].map(([name, xs]) => [name, median(xs)]));
  for (const name of Object.keys(perEvent)) if (name.startsWith('SQLite')) perEvent[name] -= perEvent[BUILD_ROWS];

  // HTTP: the ceiling server (Fastify parses the body and answers 200) as a process under load.
  const http: { workload: string; perRequest: number; perEvent: number; rps: number }[] = [];
  if (args.http !== false) {
    for (const workload of [WORKLOADS.W1, WORKLOADS.W2]) {
      try {
        const result = await withCellServer({ partitions: 1, kafkaBootstrap: () => Promise.reject(new Error('no Kafka here')) }, SERVERS.ceiling, `path-${workload.name}`, undefined, async ({ server }) => {
          const job = { url: server.url, workload: workload.name, writeKey: server.writeKey, connections: 50, messageIds: 'v7' as const };
          return runLoad({ ...job, warmupSeconds: options.quick ? 1 : 2, durationSeconds: options.quick ? 4 : 8 }, server.pid);
        });
        const perReq = cpuMicrosPerEvent(result.server.cpuSeconds, result.load.ok);
        http.push({ workload: workload.name, perRequest: perReq, perEvent: perReq / workload.eventsPerRequest, rps: result.load.ok / result.load.durationSeconds });
        log(`path costs: ceiling ${workload.name}: ${perReq.toFixed(1)} µs CPU per request`);
      } catch (error) {
        log(`path costs: ceiling ${workload.name} failed: ${(error as Error).message}`);
      }
    }
  }

  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
  const w1 = http.find((h) => h.workload === 'W1');
  const w2 = http.find((h) => h.workload === 'W2');
  const parse = perEvent[parts[0][0]];
  const parseW2 = perEvent[parts[1][0]];
  const rows = parts.map(([name]) => `| ${name} | ${f(perEvent[name])} | ${name.startsWith('Kafka') ? f(batchBytes[name.endsWith('lz4') ? 'lz4' : name.endsWith('zstd') ? 'zstd' : 'none']) : ''} |`);
  const markdown = [
    `CPU time per event of each part of the path, measured alone on W1's events (~${size.toFixed(0)} bytes as stored), median of ${rounds} rounds of ~${seconds} s CPU each, the parts alternating. SQLite: the real schema, WAL, synchronous=FULL, ids like UUIDv7. Kafka: what the producer thread does before the socket (keys and headers to bytes, the values as views of the send's buffer, record batch, CRC, compression), 100 records per batch; bytes per event on the wire beside it.`,
    '',
    '| part | CPU µs per event | Kafka bytes per event |',
    '|---|--:|--:|',
    ...rows,
    w1 ? `| HTTP + JSON.parse, ceiling server, W1 c50 (process total, ${Math.round(w1.rps)} req/s; ${f(w1.perRequest)} µs per request; HTTP alone ≈ ${f(w1.perEvent - parse)} per event) | ${f(w1.perEvent)} | |` : '',
    w2 ? `| HTTP + JSON.parse, ceiling server, W2 c50 (process total, ${Math.round(w2.rps)} req/s; HTTP alone ≈ ${f(w2.perEvent - parseW2)} per request) | ${f(w2.perEvent)} | |` : '',
    '',
  ].filter((line, i, all) => line !== '' || all[i - 1] !== '').join('\n');
  return { markdown, perEvent };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, rounds: { type: 'string' }, 'no-http': { type: 'boolean' }, quick: { type: 'boolean' } } });
  const result = await run({ quick: values.quick }, { seconds: values.seconds ? Number(values.seconds) : undefined, rounds: values.rounds ? Number(values.rounds) : undefined, http: !values['no-http'] });
  console.log(result.markdown);
}
