import net from 'node:net';

/** A loopback port nothing listens on right now: bound, then released. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((done) => server.close(done));
  return port;
}

export function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/**
 * The first port of `count` consecutive free loopback ports (for services such as a Kafka cluster
 * that number their ports from a base). Bases are tried from a random point of a wide range, or
 * from INLET_TEST_PORT_BASE when set, so two test runs on one machine rarely try the same ones;
 * callers still retry on a start failure, since another process may take a port after the check.
 */
export async function freePortBlock(count: number): Promise<number> {
  const first = Number(process.env.INLET_TEST_PORT_BASE) || 20_000 + Math.floor(Math.random() * 3000) * 10;
  for (let attempt = 0, base = first; attempt < 200; attempt++, base = 20_000 + ((base - 20_000 + 10 * Math.max(count, 1)) % 30_000)) {
    let free = true;
    for (let port = base; port < base + count && free; port++) free = await portFree(port);
    if (free) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
