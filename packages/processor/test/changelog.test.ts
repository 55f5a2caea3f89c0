import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChangelogRecord, changelogMessages, MAX_ENTRIES_PER_RECORD } from '../src/changelog.ts';
import { digest } from '../src/dedup-key.ts';
import { DedupStore } from '../src/dedup-store.ts';

describe('changelog records', () => {
  test('a transaction\'s entries and watermark round-trip into a store', () => {
    const keys = ['a', 'b', 'c'].map((id) => digest(`msrc\u001f${id}`));
    const [message] = changelogMessages('cl', 2, keys, [1000, 2000, 3000], 3500);
    assert.equal(message.partition, 2);
    const store = new DedupStore(10_000);
    assert.equal(applyChangelogRecord(store, message.value!), 3);
    assert.equal(store.size, 3);
    assert.equal(store.watermark, 3500);
    assert.equal(store.decide(keys[1], 2500), true);
    assert.equal(store.decide(digest('msrc\u001fd'), 2500), false);
  });

  test('a transaction that kept nothing still writes its watermark record', () => {
    const messages = changelogMessages('cl', 0, [], [], 42);
    assert.equal(messages.length, 1);
    const store = new DedupStore(10);
    assert.equal(applyChangelogRecord(store, messages[0].value!), 0);
    assert.equal(store.watermark, 42);
  });

  test('very large transactions are split into records under 1 MB', () => {
    const n = MAX_ENTRIES_PER_RECORD * 2 + 5;
    const keys = Array.from({ length: n }, (_, i) => digest(`m${i}`));
    const messages = changelogMessages('cl', 0, keys, keys.map((_, i) => i), n);
    assert.equal(messages.length, 3);
    for (const m of messages) assert.ok(m.value!.length < 1_000_000);
    const store = new DedupStore(n * 2);
    for (const m of messages) applyChangelogRecord(store, m.value!);
    assert.equal(store.size, n);
  });

  test('unreadable records are refused, not half-applied', () => {
    const store = new DedupStore(10);
    assert.equal(applyChangelogRecord(store, Buffer.from('garbage')), -1);
    assert.equal(applyChangelogRecord(store, null), -1);
    const [good] = changelogMessages('cl', 0, [digest('x')], [1], 1);
    assert.equal(applyChangelogRecord(store, good.value!.subarray(0, good.value!.length - 1)), -1);
    assert.equal(store.size, 0);
  });

  test('keys that are not 16-character digests are rejected', () => {
    assert.throws(() => changelogMessages('cl', 0, ['short'], [1], 1), /16-character/);
  });
});
