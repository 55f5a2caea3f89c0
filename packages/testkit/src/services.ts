// Finds the real services a suite needs. In CI a missing service fails the suite; elsewhere the
// suite is skipped with a printed reason, so a newcomer without Kafka still gets a green run.
import net from 'node:net';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Need<T> {
  value: T | undefined;
  /** false when the service is there; otherwise the reason, ready for node:test's `skip` option */
  skip: string | false;
}

export const inCI = Boolean(process.env.CI);

async function tcpOpen(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => { socket.destroy(); resolve(ok); };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function missing<T>(service: string, reason: string): Need<T> {
  const message = `${service} unavailable: ${reason}`;
  if (inCI) throw new Error(`${message} (CI requires it; .ci/run should have started it)`);
  console.log(`# SKIP ${message}`);
  return { value: undefined, skip: message };
}

export async function needRedis(): Promise<Need<string>> {
  const url = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const u = new URL(url);
  return (await tcpOpen(u.hostname, Number(u.port || 6379))) ? { value: url, skip: false } : missing('Redis', `nothing listens at ${url}`);
}

export async function needPostgres(): Promise<Need<string>> {
  const url = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const u = new URL(url);
  return (await tcpOpen(u.hostname, Number(u.port || 5432))) ? { value: url, skip: false } : missing('PostgreSQL', `nothing listens at ${url}`);
}

/** The shared test broker that .ci/run (or you) started with `scripts/kafka start`; see README. */
export async function needKafka(): Promise<Need<string>> {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) return missing('Kafka', 'KAFKA_BROKERS is not set (start one with `scripts/kafka start` and export what it prints)');
  const [host, port] = brokers.split(',')[0].split(':');
  return (await tcpOpen(host, Number(port))) ? { value: brokers, skip: false } : missing('Kafka', `nothing listens at ${brokers}`);
}

export async function needChromium(): Promise<Need<string>> {
  const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  return existsSync(path) ? { value: path, skip: false } : missing('Chromium', `${path} does not exist (apt-get install chromium)`);
}

/**
 * What a test needs to start Kafka clusters of its own through scripts/kafka (failover and
 * restart tests): Java, and the broker's jars (fetched from Maven Central once). Independent of
 * KAFKA_BROKERS, so those tests run wherever a broker can be started.
 */
export async function needKafkaRuntime(): Promise<Need<true>> {
  const java = spawnSync('java', ['-version'], { stdio: 'ignore' });
  if (java.error || java.status !== 0) return missing('Kafka (own cluster)', 'java is not installed');
  const script = fileURLToPath(new URL('../../../scripts/kafka', import.meta.url));
  const fetched = spawnSync(process.execPath, [script, 'fetch'], { encoding: 'utf8', timeout: 600_000 });
  if (fetched.status !== 0) return missing('Kafka (own cluster)', `scripts/kafka fetch failed: ${(fetched.stderr || String(fetched.error)).trim().split('\n').pop()}`);
  return { value: true, skip: false };
}

/** Root, for tests that mount a file system or make network namespaces. */
export async function needRoot(what: string): Promise<Need<true>> {
  if (process.getuid?.() !== 0) return missing(`root (${what})`, 'not running as root');
  const ip = spawnSync('ip', ['-V'], { stdio: 'ignore' });
  if (ip.error || ip.status !== 0) return missing(`root (${what})`, 'the ip command (iproute2) is not installed');
  return { value: true, skip: false };
}

/** A redis-server binary, for tests that run (and kill) a Redis of their own. */
export async function needRedisServer(): Promise<Need<true>> {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' });
  return probe.error || probe.status !== 0 ? missing('redis-server', 'the redis-server command is not installed') : { value: true, skip: false };
}
