// The data directory holds events (personal data) and the sources: it is created 0700 and its
// SQLite files 0600 whatever the umask, and a store made loose (by an older version, or under a
// permissive umask) is tightened when the server starts on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startInlet } from '@inlet/testkit';
import { postJson } from './http-client.ts';

function loose(dataDir: string): string[] {
  return [dataDir, ...readdirSync(dataDir).map((f) => join(dataDir, f))]
    .filter((path) => (statSync(path).mode & 0o077) !== 0)
    .map((path) => `${path} ${(statSync(path).mode & 0o777).toString(8)}`);
}

test('a new data directory is 0700 and its SQLite files 0600, even under a permissive umask', async () => {
  const parent = mkdtempSync(join(tmpdir(), 'inlet-perm-'));
  const dataDir = join(parent, 'store');
  const umask = process.umask(0o002);
  try {
    const inlet = await startInlet({ dataDir });
    try {
      const res = await postJson(inlet.url, '/v1/track', { userId: 'u', event: 'e' }, inlet.writeKey);
      assert.equal(res.status, 200);
      const files = readdirSync(dataDir);
      assert.ok(files.includes('inlet.db') && files.includes('inlet.db-wal'), files.join(', '));
      assert.equal(statSync(dataDir).mode & 0o777, 0o700);
      assert.deepEqual(loose(dataDir), []);
    } finally {
      await inlet.close();
    }
  } finally {
    process.umask(umask);
    rmSync(parent, { recursive: true, force: true });
  }
});

test('an existing store with 0755/0644 modes is tightened when the server starts', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-perm-'));
  try {
    const first = await startInlet({ dataDir });
    await postJson(first.url, '/v1/track', { userId: 'u', event: 'e' }, first.writeKey);
    await first.close();
    chmodSync(dataDir, 0o755);
    for (const f of readdirSync(dataDir)) chmodSync(join(dataDir, f), 0o644);
    assert.notDeepEqual(loose(dataDir), []);

    const second = await startInlet({ dataDir });
    try {
      assert.deepEqual(loose(dataDir), []);
      assert.equal((await second.events()).length, 1, 'the store is intact');
    } finally {
      await second.close();
    }
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
