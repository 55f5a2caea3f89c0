// A real Inlet server (embedded SQLite sink) for tests, on 127.0.0.1 and a free port.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { NormalizedRecord } from '@inlet/schema';
import { configWith, readStoredEvents, startServer, type Config, type RunningServer, type ServerParts } from '@inlet/server';

export interface TestInlet {
  url: string;
  writeKey: string;
  /** the admin listener's address */
  adminUrl: string;
  /** the admin token made at first start (undefined when the data dir already had one) */
  adminToken: string | undefined;
  dataDir: string;
  server: RunningServer;
  /** everything in the embedded store so far, oldest first */
  events(): Promise<NormalizedRecord[]>;
  close(): Promise<void>;
}

export async function startInlet(overrides: Partial<Config> = {}, parts: ServerParts = {}): Promise<TestInlet> {
  const ownDir = overrides.dataDir === undefined;
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'inlet-test-'));
  const config = configWith({ port: 0, host: '127.0.0.1', logLevel: 'warn', admin: { host: '127.0.0.1', port: 0 }, ...overrides, dataDir });
  const server = await startServer(config, { logger: pino({ level: config.logLevel }), ...parts });
  if (!server.defaultSource) throw new Error('test server has no default source');
  return {
    url: server.url,
    writeKey: server.defaultSource.writeKey,
    adminUrl: server.admin.url,
    adminToken: server.adminToken,
    dataDir,
    server,
    events: async () => readStoredEvents(dataDir, 0, 1_000_000).map((row) => row.record),
    close: async () => {
      await server.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
