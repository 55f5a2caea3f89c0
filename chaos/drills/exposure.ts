// Where a write key or the server's internals can be read by someone who should not: the start
// banner and the log, the data files' modes, the store itself, /metrics on the public port.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Drill } from '../lib/drill.ts';
import { addStatuses, waitFor } from '../lib/measure.ts';
import { createSource, ServerUnderTest } from '../lib/servers.ts';

const WRITE_KEY = /wk_[A-Za-z0-9_-]{20,}/;
const ADMIN_TOKEN = /inlet_at_[A-Za-z0-9_-]{20,}/;

export const exposure: Drill = {
  name: 'exposure',
  title: 'write keys in the banner, the files and the store; /metrics on the public port',
  description: 'Starts `inlet serve` on a fresh data directory, creates a source, restarts the server, and looks: '
    + 'does the first start log the secrets it made, with stdout a pipe; does the restarted server print a write key; are the data directory and its files readable by other '
    + 'users; does the store file hold a write key as it is (rather than a hash); does the public port serve '
    + '`/metrics`, and to any origin. Static properties rather than faults, measured here so that the '
    + 'reliability report covers every row of the issue\'s table.',
  needs: [],
  async run(ctx) {
    const dataDir = join(ctx.tmpdir('exposure'), 'data');
    // At info, so that every line a start logs (the drills' default is warn) is looked at.
    const env = { INLET_DATA_DIR: dataDir, LOG_LEVEL: 'info' };
    const server = await ServerUnderTest.start(ctx, env);
    // Its stdout is a pipe, as under Docker or systemd: the first start's secrets go to a file, never to the log.
    // The public port answers before the start is announced: wait for the last line it logs.
    await waitFor('the first start to say it listens', () => server.current.stdout().includes('Inlet is listening'), 10_000, 50);
    const firstOutput = server.current.stdout() + server.current.stderr();
    const firstShown = [WRITE_KEY, ADMIN_TOKEN].filter((secret) => secret.test(firstOutput));
    ctx.check({
      name: 'the first start of `inlet serve`, its stdout a pipe, logs neither the write key nor the admin token it made',
      ok: firstShown.length === 0,
      detail: firstShown.length ? `its output shows ${firstShown.length === 2 ? 'both' : firstShown[0] === WRITE_KEY ? 'the write key' : 'the admin token'}` : 'neither in its output (they are in first-start-secrets.txt, 0600)',
    });
    const writeKey = await createSource(env, 'secret');
    await server.current.kill('SIGTERM');
    await server.restart();
    const banner = server.current.stdout();
    ctx.check({
      name: 'a restart of `inlet serve` prints no write key',
      ok: !WRITE_KEY.test(banner),
      detail: WRITE_KEY.test(banner) ? 'the banner shows one (the default source\'s)' : 'none in its output',
    });

    const loose = [dataDir, ...readdirSync(dataDir).map((f) => join(dataDir, f))]
      .map((path) => ({ path, mode: statSync(path).mode & 0o777 }))
      .filter(({ mode }) => (mode & 0o077) !== 0);
    ctx.check({
      name: 'the data directory and its files are private to their owner (0700/0600)',
      ok: loose.length === 0,
      detail: loose.length ? loose.map(({ path, mode }) => `${path === dataDir ? 'data dir' : path.slice(dataDir.length + 1)} ${mode.toString(8).padStart(4, '0')}`).join(', ') : 'they are',
    });

    const files = ['inlet.db', 'inlet.db-wal'].map((f) => join(dataDir, f)).filter(existsSync);
    const inPlain = files.some((f) => readFileSync(f).includes(writeKey));
    ctx.check({
      name: 'the store keeps no write key in plain text',
      ok: !inPlain,
      detail: inPlain ? 'the new source\'s key is in the SQLite file as it is' : 'not found in the store\'s files',
    });

    const metrics = await fetch(`${server.url}/metrics`, { headers: { origin: 'https://elsewhere.example' } });
    await metrics.body?.cancel();
    addStatuses(ctx.measured, { [metrics.status]: 1 });
    const cors = metrics.headers.get('access-control-allow-origin');
    ctx.check({
      name: '/metrics is not served on the public port',
      ok: metrics.status === 404,
      detail: `GET /metrics on the public port: ${metrics.status}${cors ? `, Access-Control-Allow-Origin: ${cors}` : ''}`,
    });
  },
};
