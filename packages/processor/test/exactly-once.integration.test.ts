// The proof: two processor processes, SIGKILLed three times at random moments and restarted, and
// still the output topic holds exactly the unique events — none missing, none twice.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { needKafka } from '@inlet/testkit';
import { countUncommitted, createTopics, deleteTopics, groupLag, messageIdOf, produceRaw, rawRecord, readCommitted, uniqueName, waitFor } from './kafka-helpers.ts';
import { ProcessorChild } from './processor-child.ts';

const need = await needKafka();
const EVENTS = Number(process.env.PROCESSOR_PROOF_EVENTS ?? 30_000);
const PHASES = 6;
const KILLS = 3;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A deterministic generator, so a failure can be replayed with the seed it prints. */
function generator(seed: number) {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}

interface Planned {
  messageId: string;
  sourceId: string;
  userId: string;
  receivedAt: number;
}

/**
 * ~10% repeats: half soon after the original, half anywhere later (up to ~50 min of event time
 * apart). receivedAt follows the log order, as the server's clock does, with a little jitter:
 * the N events span 50 minutes of event time.
 */
function plan(n: number, random: () => number): { events: Planned[]; unique: Set<string> } {
  const base = Date.now() - 2 * 3_600_000;
  const step = (50 * 60_000) / n;
  const events: Planned[] = [];
  const unique = new Set<string>();
  for (let i = 0; i < n; i++) {
    const receivedAt = Math.round(base + i * step + (random() - 0.5) * 2000);
    if (i > 100 && random() < 0.1) {
      const j = random() < 0.5 ? i - 1 - Math.floor(random() * 100) : Math.floor(random() * i);
      events.push({ ...events[j], receivedAt });
      continue;
    }
    const event = { messageId: `e${i}`, sourceId: random() < 0.5 ? 'src-1' : 'src-2', userId: `u${Math.floor(random() * 500)}`, receivedAt };
    events.push(event);
    unique.add(`${event.sourceId}/${event.messageId}`);
  }
  return { events, unique };
}

describe('exactly once through crashes (two processor processes, real Kafka)', { skip: need.skip }, () => {
  const brokers = (need.value ?? '').split(',');
  const topics: string[] = [];
  const children: ProcessorChild[] = [];

  after(async () => {
    await Promise.all(children.map((c) => c.kill('SIGKILL')));
    if (!process.env.PROCESSOR_PROOF_KEEP_TOPICS) await deleteTopics(brokers, topics).catch(() => undefined);
    else console.log(`# kept topics ${topics.join(' ')}`);
  });

  test(`${EVENTS} events, ~10% repeats, ${KILLS} SIGKILLs: exactly the unique set comes out`, async () => {
    const seed = Number(process.env.PROCESSOR_PROOF_SEED ?? Date.now() % 1_000_000);
    console.log(`# seed ${seed} (PROCESSOR_PROOF_SEED to replay)`);
    const random = generator(seed);
    const input = uniqueName('proof-raw');
    const output = uniqueName('proof-events');
    const changelog = uniqueName('proof-changelog');
    const groupId = uniqueName('proof-group');
    topics.push(input, output, changelog);
    await createTopics(brokers, [input, output], 6);

    const { events, unique } = plan(EVENTS, random);
    const args = ['--brokers', brokers.join(','), '--group', groupId, '--input', input, '--output', output, '--changelog', changelog,
      '--log-interval', '0', '--session-timeout', '6000', '--max-batch', '500'];
    const a = new ProcessorChild('a', args);
    const b = new ProcessorChild('b', args);
    children.push(a, b);
    await a.start();
    await b.start();

    // Kill after three of the six phases, at a random moment while that phase is being processed.
    const killPhases = new Set<number>();
    while (killPhases.size < KILLS) killPhases.add(Math.floor(random() * (PHASES - 1)));
    const perPhase = Math.ceil(EVENTS / PHASES);
    try {
      for (let phase = 0; phase < PHASES; phase++) {
        await produceRaw(brokers, events.slice(phase * perPhase, (phase + 1) * perPhase).map((e) => rawRecord(input, e)));
        if (!killPhases.has(phase)) {
          await sleep(100 + random() * 400);
          continue;
        }
        // A random moment while this phase is being worked on: once commits have started to
        // eat into it, then a little more.
        const produced = BigInt(perPhase);
        await waitFor('processing to start', async () => (await groupLag(brokers, groupId, input)) < produced, 20_000, 50).catch(() => undefined);
        await sleep(random() * 300);
        const victim = random() < 0.5 ? a : b;
        const lag = await groupLag(brokers, groupId, input);
        await victim.kill('SIGKILL');
        console.log(`# phase ${phase}: SIGKILL ${victim.instanceId} with ${lag} records not yet committed`);
        await sleep(200 + random() * 1500);
        await victim.start();
      }
      await waitFor('the group to commit every input record', async () => (await groupLag(brokers, groupId, input)) === 0n, 120_000, 500);
    } catch (error) {
      console.log([...a.tail, ...b.tail].join('\n'));
      throw error;
    }
    await Promise.all([a.kill('SIGTERM'), b.kill('SIGTERM')]);

    const out = await readCommitted(brokers, output);
    const seen = new Map<string, number>();
    for (const record of out) {
      const key = `${JSON.parse(record.value!.toString()).sourceId}/${messageIdOf(record)}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    }
    const duplicated = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
    const missing = [...unique].filter((k) => !seen.has(k));
    const unexpected = [...seen.keys()].filter((k) => !unique.has(k));
    const written = await countUncommitted(brokers, output);
    console.log(`# input ${events.length}, unique ${unique.size}, output ${out.length} (+${written - out.length} written by transactions that were aborted)`);
    assert.deepEqual(duplicated.slice(0, 10), [], `${duplicated.length} events written more than once`);
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} events missing`);
    assert.deepEqual(unexpected, []);
    assert.equal(out.length, unique.size);
  });
});
