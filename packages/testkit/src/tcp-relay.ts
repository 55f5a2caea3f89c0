// A TCP relay in front of a real service (PostgreSQL, a broker), so a test can take the service
// away from one client while it keeps running for everyone else: `cut('refuse')` closes the port
// and resets every connection (what a stopped database looks like), `cut('blackhole')` keeps
// accepting but forwards nothing either way (what a partition looks like: silence). `heal()`
// brings it back on the same port. For PostgreSQL it can also count the queries that pass.
import net from 'node:net';

export type CutMode = 'refuse' | 'blackhole';

export interface RelayOptions {
  /** count PostgreSQL queries (Execute and simple Query messages) from clients */
  postgres?: boolean;
}

/** Counts Execute ('E') and Query ('Q') messages in one client's stream of PostgreSQL frontend messages. */
function postgresQueryCounter(onQuery: () => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  let started = false; // the startup packet (and an SSL/GSS request before it) carry no type byte
  return (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    for (;;) {
      const header = started ? 5 : 4;
      if (pending.length < header) return;
      const length = started ? pending.readInt32BE(1) + 1 : pending.readInt32BE(0);
      if (pending.length < length) return;
      if (!started) {
        if (pending.length >= 8 && pending.readInt32BE(4) === 196_608) started = true; // protocol 3.0
      } else if (pending[0] === 0x45 || pending[0] === 0x51) {
        onQuery();
      }
      pending = pending.subarray(length);
    }
  };
}

export class TcpRelay {
  readonly target: { host: string; port: number };
  port = 0;
  /** PostgreSQL queries relayed so far (with `postgres: true`) */
  queries = 0;
  /** connections accepted so far */
  connections = 0;
  readonly #options: RelayOptions;
  readonly #sockets = new Set<net.Socket>();
  readonly #pairs = new Set<[net.Socket, net.Socket]>();
  #server: net.Server | undefined;
  #mode: 'open' | CutMode = 'open';

  constructor(target: { host: string; port: number }, options: RelayOptions = {}) {
    this.target = target;
    this.#options = options;
  }

  /** A relay listening on 127.0.0.1 (a free port unless `port` is given). */
  static async start(target: { host: string; port: number }, options: RelayOptions & { port?: number } = {}): Promise<TcpRelay> {
    const relay = new TcpRelay(target, options);
    relay.port = options.port ?? 0;
    await relay.#listen();
    return relay;
  }

  get mode(): 'open' | CutMode {
    return this.#mode;
  }

  #keep(socket: net.Socket): void {
    this.#sockets.add(socket);
    socket.on('close', () => this.#sockets.delete(socket));
  }

  #accept(client: net.Socket): void {
    this.connections++;
    this.#keep(client);
    if (this.#mode === 'blackhole') {
      client.on('error', () => client.destroy());
      client.resume(); // read and drop: the client's writes never block, nothing comes back
      return;
    }
    const upstream = net.connect(this.target);
    this.#keep(upstream);
    const both: [net.Socket, net.Socket] = [client, upstream];
    this.#pairs.add(both);
    for (const s of both) s.on('error', () => { for (const t of both) t.destroy(); });
    for (const s of both) s.on('close', () => { this.#pairs.delete(both); for (const t of both) t.destroy(); });
    if (this.#options.postgres) {
      const count = postgresQueryCounter(() => { this.queries++; });
      client.on('data', count);
    }
    client.pipe(upstream).pipe(client);
  }

  async #listen(): Promise<void> {
    const server = net.createServer((client) => this.#accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as net.AddressInfo).port;
    this.#server = server;
  }

  /**
   * Takes the service away. 'refuse': open connections are reset and new ones refused.
   * 'blackhole': open connections go silent (what is sent is dropped, nothing comes back) and
   * new ones are accepted and left silent.
   */
  async cut(mode: CutMode = 'refuse'): Promise<void> {
    this.#mode = mode;
    if (mode === 'blackhole') {
      for (const [client, upstream] of this.#pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.removeAllListeners('data');
        client.resume();
        upstream.resume();
      }
      return;
    }
    for (const s of this.#sockets) s.destroy();
    if (this.#server) {
      const server = this.#server;
      this.#server = undefined;
      await new Promise((resolve) => server.close(resolve));
    }
  }

  /** Gives the service back on the same port. */
  async heal(): Promise<void> {
    if (this.#mode === 'blackhole') for (const s of this.#sockets) s.destroy(); // hung connections end now
    this.#mode = 'open';
    if (!this.#server) await this.#listen();
  }

  async close(): Promise<void> {
    await this.cut('refuse');
  }
}
