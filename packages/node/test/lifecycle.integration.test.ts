// The SDK inside a host process: it must never keep the host alive on its own, yet an awaited
// shutdown() must keep it alive until the events are delivered (or the timeout gives up).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort, startInlet, type TestInlet } from '@inlet/testkit';
import { startProxy, type Proxy } from './support/proxy.ts';

const FIXTURE = resolve(import.meta.dirname, 'fixtures/host-process.ts');

function runHost(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', FIXTURE], { env: { ...process.env, ...env }, timeout: 60_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}


describe('the SDK in a host process', () => {
  let inlet: TestInlet;
  let proxy: Proxy;
  before(async () => {
    inlet = await startInlet();
    proxy = await startProxy(inlet.url);
  });
  after(async () => {
    await proxy.close();
    await inlet.close();
  });

  test('pending retries do not keep a host alive that never calls shutdown()', async () => {
    const port = await freePort();
    const result = await runHost({ ENDPOINT: `http://127.0.0.1:${port}`, WRITE_KEY: 'wk_x', HOST_MODE: 'none', HOST_EVENTS: '5' });
    assert.equal(result.code, 0, result.stderr);
  });

  for (const mode of ['flush', 'shutdown']) {
    test(`an awaited ${mode}() keeps the host alive through retries until everything is delivered`, async () => {
      const before = (await inlet.events()).length;
      proxy.queue.push({ kind: 'answer', status: 503 }, { kind: 'refuse' }, { kind: 'answer', status: 503 });
      const result = await runHost({ ENDPOINT: proxy.url, WRITE_KEY: inlet.writeKey, HOST_EVENTS: '25', HOST_MODE: mode });
      // 13 would be Node's "unsettled top-level await": the process ran out of things to wait for.
      assert.equal(result.code, 0, result.stderr);
      const stats = JSON.parse(result.stdout);
      assert.equal(stats.delivered, 25);
      assert.equal(stats.retries, 3);
      assert.equal((await inlet.events()).length - before, 25);
    });
  }

  test('shutdown() gives up after its timeout and reports what it could not deliver', async () => {
    proxy.mode = { kind: 'answer', status: 503 };
    try {
      const result = await runHost({ ENDPOINT: proxy.url, WRITE_KEY: inlet.writeKey, HOST_EVENTS: '7', HOST_SHUTDOWN_TIMEOUT_MS: '300' });
      assert.equal(result.code, 0, result.stderr);
      const stats = JSON.parse(result.stdout);
      assert.equal(stats.delivered, 0);
      assert.equal(stats.droppedByReason['shutdown-timeout'], 7);
      assert.equal(stats.queued, 0);
    } finally {
      proxy.mode = { kind: 'forward' };
    }
  });
});
