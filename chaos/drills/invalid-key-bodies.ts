// Clients posting expensive bodies (objects of 60,000 keys) with an invalid write key: the server
// should refuse them before reading and parsing the body, so a well-behaved client does not pay.
import { answerBeforeBody, cpuSeconds } from '@inlet/testkit';
import { randomUUID } from 'node:crypto';
import type { Drill } from '../lib/drill.ts';
import { randomKey } from '../lib/attacks.ts';
import { addStatuses, checkAcknowledgedStored, percentile, sleep } from '../lib/measure.ts';
import { postOne } from '../lib/postgres.ts';
import { createSource, embeddedIds, ServerUnderTest } from '../lib/servers.ts';

/** A JSON object of `keys` distinct 3-character keys: about 8 bytes a key, under the 500 KB body limit for 60,000. */
function manyKeyObject(keys: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~+=!*()$@';
  const parts: string[] = [];
  for (let i = 0; parts.length < keys; i++) {
    const key = alphabet[i % alphabet.length] + alphabet[Math.floor(i / alphabet.length) % alphabet.length] + alphabet[Math.floor(i / alphabet.length ** 2) % alphabet.length];
    parts.push(`"${key}":0`);
  }
  return `{${parts.join(',')}}`;
}

/** Headers with an invalid Basic key and a declared body, no body: does an answer come anyway? */
function answeredBeforeBody(port: number, waitMs: number): Promise<number | undefined> {
  return answerBeforeBody(`http://127.0.0.1:${port}`, { authorization: `Basic ${Buffer.from(`${randomKey()}:`).toString('base64')}` }, 400_000, waitMs);
}

export const invalidKeyBodies: Drill = {
  name: 'invalid-key-bodies',
  title: '4 clients posting 60,000-key objects with an invalid write key',
  description: 'Against `inlet serve` (embedded store), a canary client posts one small event at a time, back '
    + 'to back, for 10 s (quick: 2 s) alone and then for 15 s (quick: 3 s) while 4 attacking clients post, back '
    + 'to back, a 480 KB JSON object of 60,000 keys with an unknown write key in the Authorization header. The '
    + 'canary\'s p50/p99 in both phases and the server\'s CPU per attacking request are reported (timing on a '
    + 'shared machine: orders of magnitude). The verdict rests on what does not depend on timing: whether a '
    + 'request with an unknown Basic key is answered before its body has arrived.',
  needs: [],
  async run(ctx) {
    const dataDir = ctx.tmpdir('invalid-key-bodies');
    const env = { INLET_DATA_DIR: dataDir };
    const writeKey = await createSource(env, 'chaos');
    const server = await ServerUnderTest.start(ctx, env);
    const canaryStatuses = new Map<number | string, number>();
    const acknowledged = new Set<string>();
    const sent = new Set<string>();
    const canary = async (ms: number) => {
      const latencies: number[] = [];
      const until = performance.now() + ms;
      while (performance.now() < until) {
        const id = `ik-${randomUUID()}`;
        sent.add(id);
        const reply = await postOne(server.url, writeKey, id);
        canaryStatuses.set(reply.status, (canaryStatuses.get(reply.status) ?? 0) + 1);
        if (reply.status === 200) acknowledged.add(id);
        latencies.push(reply.ms);
      }
      return latencies;
    };
    await canary(1000); // warm up
    const baseline = await canary(ctx.quick ? 2000 : 10_000);

    const body = manyKeyObject(60_000);
    let attacking = true;
    const attackStatuses = new Map<number | string, number>();
    const cpuBefore = cpuSeconds(server.pid);
    const attackers = Array.from({ length: 4 }, async () => {
      while (attacking) {
        try {
          const response = await fetch(`${server.url}/v1/batch`, {
            method: 'POST', body,
            headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${randomKey()}:`).toString('base64')}` },
            signal: AbortSignal.timeout(15_000),
          });
          await response.body?.cancel();
          attackStatuses.set(response.status, (attackStatuses.get(response.status) ?? 0) + 1);
        } catch (error) {
          const code = (error as { name?: string }).name ?? 'error';
          attackStatuses.set(code, (attackStatuses.get(code) ?? 0) + 1);
          await sleep(50);
        }
      }
    });
    const underAttack = await canary(ctx.quick ? 3000 : 15_000);
    attacking = false;
    await Promise.all(attackers);
    const attackRequests = [...attackStatuses.values()].reduce((a, b) => a + b, 0);
    const cpuMsEach = ((cpuSeconds(server.pid) - cpuBefore) * 1000) / Math.max(1, attackRequests);

    addStatuses(ctx.measured, attackStatuses);
    checkAcknowledgedStored(ctx, { acknowledged, sent, statuses: canaryStatuses }, embeddedIds(dataDir), 'ik-', 'no acknowledged canary event is lost');
    const ms = (n: number) => `${n.toFixed(0)} ms`;
    ctx.measured.notes.push(`canary p50/p99 alone ${ms(percentile(baseline, 50))} / ${ms(percentile(baseline, 99))}, under attack ${ms(percentile(underAttack, 50))} / ${ms(percentile(underAttack, 99))}`);
    ctx.measured.notes.push(`${attackRequests} attacking requests (${JSON.stringify(Object.fromEntries(attackStatuses))}), ${cpuMsEach.toFixed(1)} ms of server CPU each`);

    const early = await answeredBeforeBody(server.port, 2000);
    ctx.check({
      // 429 when the attack has spent this address's budget for requests without a valid key: refused before the body too.
      name: 'a request with an unknown Basic key is refused before its body is read',
      ok: early === 401 || early === 429,
      detail: early === undefined ? 'no answer within 2 s while the body was still to come' : `answered ${early} before the body`,
    });
    const canaryFailed = [...canaryStatuses].filter(([s]) => s !== 200);
    ctx.check({ name: 'the canary gets 200 throughout', ok: canaryFailed.length === 0, detail: canaryFailed.length ? `also ${JSON.stringify(Object.fromEntries(canaryFailed))}` : `all ${canaryStatuses.get(200)} did` });
    ctx.check({ name: 'the server stays up', ok: server.running(), detail: server.running() ? 'yes' : 'it exited' });
  },
};
