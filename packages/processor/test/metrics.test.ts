// The Prometheus text the processor serves on /metrics.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { renderPrometheus } from '../src/metrics.ts';

describe('renderPrometheus', () => {
  test('renders every counter with help and type', () => {
    const text = renderPrometheus({ consumed: 5, produced: 4, duplicatesDropped: 1, invalidPassedThrough: 0, transactions: 2, transactionFailures: 0, restores: 3, changelogEntriesRestored: 0, lag: 7, assignedPartitions: 3, dedupKeys: 4, dedupBytes: 400, bytesPerKey: 100 });
    assert.match(text, /# TYPE inlet_processor_consumed_total counter\ninlet_processor_consumed_total 5\n/);
    assert.match(text, /inlet_processor_duplicates_dropped_total 1\n/);
    assert.match(text, /# TYPE inlet_processor_lag gauge\ninlet_processor_lag 7\n/);
    assert.match(text, /inlet_processor_dedup_bytes_per_key 100\n/);
  });
});
