// Counters the processor keeps, rendered as Prometheus text and as a periodic log line.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricsSnapshot {
  consumed: number;
  produced: number;
  duplicatesDropped: number;
  invalidPassedThrough: number;
  transactions: number;
  transactionFailures: number;
  restores: number;
  changelogEntriesRestored: number;
  lag: number;
  assignedPartitions: number;
  dedupKeys: number;
  dedupBytes: number;
  bytesPerKey: number;
}

export class ProcessorMetrics {
  consumed = 0;
  produced = 0;
  duplicatesDropped = 0;
  invalidPassedThrough = 0;
  transactions = 0;
  transactionFailures = 0;
  restores = 0;
  changelogEntriesRestored = 0;
  /** filled in by the processor when a snapshot is taken */
  gauges: () => Pick<MetricsSnapshot, 'lag' | 'assignedPartitions' | 'dedupKeys' | 'dedupBytes'> = () => ({ lag: 0, assignedPartitions: 0, dedupKeys: 0, dedupBytes: 0 });

  snapshot(): MetricsSnapshot {
    const gauges = this.gauges();
    return {
      consumed: this.consumed,
      produced: this.produced,
      duplicatesDropped: this.duplicatesDropped,
      invalidPassedThrough: this.invalidPassedThrough,
      transactions: this.transactions,
      transactionFailures: this.transactionFailures,
      restores: this.restores,
      changelogEntriesRestored: this.changelogEntriesRestored,
      ...gauges,
      bytesPerKey: gauges.dedupKeys > 0 ? Math.round(gauges.dedupBytes / gauges.dedupKeys) : 0,
    };
  }
}

const DESCRIPTIONS: [keyof MetricsSnapshot, string, 'counter' | 'gauge', string][] = [
  ['consumed', 'inlet_processor_consumed_total', 'counter', 'Input records processed in committed transactions'],
  ['produced', 'inlet_processor_produced_total', 'counter', 'Records written to the output topic in committed transactions'],
  ['duplicatesDropped', 'inlet_processor_duplicates_dropped_total', 'counter', 'Input records dropped as repeats within the window'],
  ['invalidPassedThrough', 'inlet_processor_invalid_total', 'counter', 'Input records that are not JSON objects, passed through without dedup'],
  ['transactions', 'inlet_processor_transactions_total', 'counter', 'Committed transactions'],
  ['transactionFailures', 'inlet_processor_transaction_failures_total', 'counter', 'Failed or aborted transactions (each followed by a state restore)'],
  ['restores', 'inlet_processor_restores_total', 'counter', 'Partition state restores from the changelog'],
  ['changelogEntriesRestored', 'inlet_processor_changelog_entries_restored_total', 'counter', 'Dedup entries read from the changelog while restoring'],
  ['lag', 'inlet_processor_lag', 'gauge', 'Records behind the high watermark, summed over assigned partitions'],
  ['assignedPartitions', 'inlet_processor_assigned_partitions', 'gauge', 'Input partitions this instance owns'],
  ['dedupKeys', 'inlet_processor_dedup_keys', 'gauge', 'Keys held in the dedup window'],
  ['dedupBytes', 'inlet_processor_dedup_bytes', 'gauge', 'Estimated heap bytes of the dedup window'],
  ['bytesPerKey', 'inlet_processor_dedup_bytes_per_key', 'gauge', 'Estimated heap bytes per key in the dedup window'],
];

export function renderPrometheus(snapshot: MetricsSnapshot): string {
  let text = '';
  for (const [field, metric, type, help] of DESCRIPTIONS) {
    text += `# HELP ${metric} ${help}\n# TYPE ${metric} ${type}\n${metric} ${snapshot[field]}\n`;
  }
  return text;
}

/** Serves GET /metrics (Prometheus text) and GET /health; resolves once listening. */
export async function startMetricsServer(metrics: ProcessorMetrics, port: number, host: string, healthy: () => boolean): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    if (request.method === 'GET' && request.url === '/metrics') {
      response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      response.end(renderPrometheus(metrics.snapshot()));
      return;
    }
    if (request.method === 'GET' && request.url === '/health') {
      const ok = healthy();
      response.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ ok }));
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}
