// Ports for the benchmark's own listeners, from the range this harness may use (49000-49199).
import net from 'node:net';

export const PORT_RANGE = { kafka: 49000, serversFirst: 49010, serversLast: 49090 } as const;

function free(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = net.createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

let next: number = PORT_RANGE.serversFirst;

/** The next free port for a server under test (round-robin, so a port in TIME_WAIT gets a rest). */
export async function serverPort(): Promise<number> {
  for (let tries = 0; tries <= PORT_RANGE.serversLast - PORT_RANGE.serversFirst; tries++) {
    const port = next;
    next = next >= PORT_RANGE.serversLast ? PORT_RANGE.serversFirst : next + 1;
    if (await free(port)) return port;
  }
  throw new Error(`no free port in ${PORT_RANGE.serversFirst}-${PORT_RANGE.serversLast}`);
}
