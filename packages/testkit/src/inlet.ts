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

/**
 * The default source's key per data directory, as its first start made it: a restart on the same
 * directory shows no key (the store keeps only its hash), so a test restarting a server gets it here.
 */
const defaultKeys = new Map<string, string>();

export async function startInlet(overrides: Partial<Config> = {}, parts: ServerParts = {}): Promise<TestInlet> {
  const ownDir = overrides.dataDir === undefined;
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'inlet-test-'));
  const config = configWith({ port: 0, host: '127.0.0.1', logLevel: 'warn', admin: { host: '127.0.0.1', port: 0 }, ...overrides, dataDir });
  const server = await startServer(config, { logger: pino({ level: config.logLevel }), ...parts });
  if (!server.defaultSource) throw new Error('test server has no default source');
  if (server.defaultSource.writeKey) defaultKeys.set(dataDir, server.defaultSource.writeKey);
  return {
    url: server.url,
    get writeKey(): string {
      const key = defaultKeys.get(dataDir);
      if (!key) throw new Error(`test server in ${dataDir}: its default source was made elsewhere, so its write key is unknown here (rotate it with sources.rotateKey)`);
      return key;
    },
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
