// Managed Kafka asks for SASL or TLS: a broker of our own with a SASL_PLAINTEXT listener (SCRAM and
// PLAIN users), an SSL one (a CA made for it) and a SASL_SSL one, and the real `inlet` commands against it —
// `topics create`, `serve`, `process` — configured only through their documented settings.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSourceWithCli, inletCli, needKafkaRuntime, readAll, spawnProcess, spawnServe, startKafkaCluster, type KafkaCluster, type ServeChild } from '@inlet/testkit';

const kafka = await needKafkaRuntime();

const RAW = 'raw-events';
const EVENTS = 'events';

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const readyStatus = async (server: ServeChild) => (await fetch(`${server.url}/health/ready`, { signal: AbortSignal.timeout(10_000) })).status;

async function post(server: ServeChild, writeKey: string, messageIds: string[]): Promise<Response> {
  return fetch(`${server.url}/v1/batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` },
    body: JSON.stringify({ batch: messageIds.map((messageId) => ({ type: 'track', event: 'Signed Up', userId: `u-${messageId}`, messageId })) }),
  });
}

describe('Kafka with TLS and SASL', { skip: kafka.skip }, () => {
  let cluster: KafkaCluster;
  let dir: string;
  let env: Record<string, string>;
  let writeKey: string;
  const servers: ServeChild[] = [];

  const saslEnv = (password: string) => ({
    KAFKA_BROKERS: cluster.secure!.sasl.brokers.join(','),
    KAFKA_SASL_MECHANISM: 'scram-sha-256',
    KAFKA_SASL_USERNAME: cluster.secure!.sasl.username,
    KAFKA_SASL_PASSWORD: password,
  });

  const serve = async (settings: Record<string, string>) => {
    const server = await spawnServe({ env: { ...env, ...settings } });
    servers.push(server);
    return server;
  };

  before(async () => {
    cluster = await startKafkaCluster({ brokers: 1, secure: true });
    dir = mkdtempSync(join(tmpdir(), 'inlet-kafka-auth-'));
    env = { INLET_DATA_DIR: dir };
    // The topics are made over the SASL listener: `inlet topics create` takes the same settings.
    const out = await inletCli(['topics', 'create', '--partitions', '2'], saslEnv(cluster.secure!.sasl.password));
    assert.match(out, /topics ready/);
    writeKey = (await createSourceWithCli(env, 'auth')).writeKey;
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.kill('SIGKILL')));
    await cluster?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('with SCRAM-SHA-256 credentials the server gets ready and the events it accepts are on the topic', async () => {
    const server = await serve(saslEnv(cluster.secure!.sasl.password));
    await waitFor('ready', async () => ((await readyStatus(server)) === 200 ? true : undefined));
    const response = await post(server, writeKey, ['sasl-1', 'sasl-2', 'sasl-3']);
    assert.equal(response.status, 200, await response.text());
    const records = await readAll(cluster.bootstrap, RAW);
    assert.deepEqual(records.map((r) => r.headers['message-id']).filter((id) => id.startsWith('sasl-')).sort(), ['sasl-1', 'sasl-2', 'sasl-3']);
  });

  test('with a wrong password the server never gets ready, says SASL authentication failed, and does not show the password', async () => {
    const wrong = 'not-the-password-0123456789';
    const server = await serve(saslEnv(wrong));
    const said = await waitFor('an authentication error in the log', async () => {
      const output = server.stdout() + server.stderr();
      return /SASL authentication failed/i.test(output) ? output : (await readyStatus(server), undefined);
    });
    assert.equal(await readyStatus(server), 503);
    assert.equal((await post(server, writeKey, ['wrong-1'])).status, 503);
    assert.ok(!said.includes(wrong) && !(server.stdout() + server.stderr()).includes(wrong), 'the password is never shown');
  });

  test('TLS with the CA file works; without it the brokers\' certificate is refused, and a CA file that is not PEM stops the server', async () => {
    const tls = cluster.secure!.tls;
    const trusted = await serve({ KAFKA_BROKERS: tls.brokers.join(','), KAFKA_TLS_CA_FILE: tls.caFile });
    await waitFor('ready over TLS', async () => ((await readyStatus(trusted)) === 200 ? true : undefined));
    const response = await post(trusted, writeKey, ['tls-1']);
    assert.equal(response.status, 200, await response.text());
    assert.ok((await readAll(cluster.bootstrap, RAW)).some((r) => r.headers['message-id'] === 'tls-1'));

    const untrusted = await serve({ KAFKA_BROKERS: tls.brokers.join(','), KAFKA_TLS: 'true' });
    await waitFor('a certificate error in the log', async () => {
      const output = untrusted.stdout() + untrusted.stderr();
      return /self-signed certificate|unable to verify|certificate/i.test(output) ? output : (await readyStatus(untrusted), undefined);
    });
    assert.equal(await readyStatus(untrusted), 503);

    const notPem = join(dir, 'not-a-ca.pem');
    writeFileSync(notPem, 'hello\n');
    await assert.rejects(serve({ KAFKA_BROKERS: tls.brokers.join(','), KAFKA_TLS_CA_FILE: notPem }), /KAFKA_TLS_CA_FILE must be a PEM file of CA certificates.*INLET_INVALID_SETTING|INLET_INVALID_SETTING.*KAFKA_TLS_CA_FILE/s);
  });

  test("the Node SDK's Kafka transport delivers through the SASL listener", async () => {
    const { ServerAnalytics } = await import('@inlet/node');
    const { username, password, brokers } = cluster.secure!.sasl;
    const analytics = new ServerAnalytics({ kafka: { brokers, sourceId: 'src_node_sasl', security: { sasl: { mechanism: 'scram-sha-512', username, password } } } });
    analytics.track('node-user', 'SASL Tested', { n: 1 });
    await analytics.shutdown();
    const records = await readAll(cluster.bootstrap, RAW);
    assert.ok(records.some((r) => r.headers['source-id'] === 'src_node_sasl' && JSON.parse(r.value).event === 'SASL Tested'), 'the event is on the topic');
  });

  test('SASL over TLS together (SASL_SSL, what managed Kafka asks for): ready, and the events accepted are on the topic', async () => {
    const server = await serve({ ...saslEnv(cluster.secure!.sasl.password), KAFKA_BROKERS: cluster.secure!.saslTls.brokers.join(','), KAFKA_TLS_CA_FILE: cluster.secure!.tls.caFile });
    await waitFor('ready over SASL_SSL', async () => ((await readyStatus(server)) === 200 ? true : undefined));
    const response = await post(server, writeKey, ['sasl-tls-1']);
    assert.equal(response.status, 200, await response.text());
    assert.ok((await readAll(cluster.bootstrap, RAW)).some((r) => r.headers['message-id'] === 'sasl-tls-1'));
  });

  test('a SASL mechanism without its password is a setting error naming what is missing', async () => {
    const { KAFKA_SASL_PASSWORD: _password, ...partial } = saslEnv('x');
    await assert.rejects(serve(partial), /KAFKA_SASL_PASSWORD must be set too/);
  });

  test('inlet process reads and writes through the SASL listener', async () => {
    const server = await serve(saslEnv(cluster.secure!.sasl.password));
    await waitFor('ready', async () => ((await readyStatus(server)) === 200 ? true : undefined));
    assert.equal((await post(server, writeKey, ['proc-1', 'proc-2'])).status, 200);
    const { sasl } = cluster.secure!;
    const processor = spawnProcess(['--brokers', sasl.brokers.join(','), '--sasl-mechanism', 'scram-sha-512', '--sasl-username', sasl.username, '--log-interval', '0'], { KAFKA_SASL_PASSWORD: sasl.password });
    try {
      await waitFor('processed events', async () => {
        assert.ok(processor.running(), `inlet process exited: ${processor.stderr()}`);
        const ids = (await readAll(cluster.bootstrap, EVENTS)).map((r) => r.headers['message-id']);
        return ids.includes('proc-1') && ids.includes('proc-2') ? true : undefined;
      }, 60_000);
    } finally {
      await processor.kill('SIGKILL');
    }
    assert.ok(!(processor.stdout() + processor.stderr()).includes(sasl.password));
  });

  test('inlet process with a wrong password exits 1 saying why in one line, without the password', { timeout: 120_000 }, async () => {
    const { sasl } = cluster.secure!;
    const wrong = 'not-the-password-9876543210';
    const processor = spawnProcess(['--brokers', sasl.brokers.join(','), '--sasl-mechanism', 'scram-sha-256', '--sasl-username', sasl.username, '--log-interval', '0'], { KAFKA_SASL_PASSWORD: wrong });
    const exit = await Promise.race([processor.exited, new Promise<undefined>((r) => setTimeout(() => r(undefined), 90_000))]);
    if (!exit) await processor.kill('SIGKILL');
    assert.equal(exit?.code, 1, `exit ${JSON.stringify(exit)}: ${processor.stderr().slice(-500)}`);
    const said = processor.stderr().split('\n').filter((line) => line.startsWith('inlet process:'));
    assert.equal(said.length, 1, processor.stderr().slice(-1000));
    assert.match(said[0], /cannot start: .*(SASL|[Aa]uthentication)/);
    assert.ok(!(processor.stdout() + processor.stderr()).includes(wrong), 'the password is never shown');
    assert.ok(!/^\s+at /m.test(processor.stderr()), 'no stack trace');
  });
});
