// The load generator writes each request's messageIds straight into a copy of one rendered body.
// What it sends must still be the workload: the same JSON around the ids, and ids of the kind asked
// (a store's index sees v7 and v4 ids differently), every one new.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyTemplate, MESSAGE_ID_KINDS, WORKLOADS } from '../http/workloads.ts';

const SHAPE = {
  v7: /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
  v4: /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
};

type Event = { messageId: string };
const eventsOf = (body: { batch?: Event[] } & Event): Event[] => body.batch ?? [body];
const withoutIds = (text: string) => text.replace(/"messageId":"[^"]*"/g, '"messageId":""');

test('a body rendered as bytes is the rendered string with new ids of the kind asked, each unique', () => {
  for (const kind of MESSAGE_ID_KINDS) {
    for (const workload of [WORKLOADS.W1, WORKLOADS.W2, WORKLOADS.W1F]) {
      const template = bodyTemplate(workload, kind);
      const seen = new Set<string>();
      for (let round = 0; round < 50; round++) {
        const bytes = template.renderBytes();
        assert.equal(bytes.length, template.bytes);
        const text = bytes.toString('utf8');
        assert.equal(withoutIds(text), withoutIds(template.render()), `${workload.path} ${kind}: the JSON around the ids`);
        for (const { messageId } of eventsOf(JSON.parse(text))) {
          assert.match(messageId, SHAPE[kind]);
          assert.ok(!seen.has(messageId), `${messageId} came twice`);
          seen.add(messageId);
        }
      }
      if (kind === 'v7') {
        const [first] = [...seen];
        const ms = parseInt(first.replace('-', '').slice(0, 12), 16);
        assert.ok(Math.abs(ms - Date.now()) < 60_000, `a v7 id carries the time: ${new Date(ms).toISOString()}`);
      }
    }
  }
});
