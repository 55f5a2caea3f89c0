// Whether a server answers a request before its body: a POST's headers are sent with a declared
// body that never follows, and the status line of any answer that comes anyway is read off the raw
// socket (an HTTP client would wait to send the body). Used by the auth-before-work test and drill.
import net from 'node:net';

/** Sends only the headers of a POST /v1/batch declaring `declaredBytes`; the status of an answer that comes before the body, or undefined after `waitMs`. */
export function answerBeforeBody(url: string, headers: Record<string, string>, declaredBytes: number, waitMs = 3000): Promise<number | undefined> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = net.connect(Number(port), hostname);
    let received = '';
    const finish = (status: number | undefined) => { clearTimeout(timer); socket.destroy(); done(status); };
    const timer = setTimeout(() => finish(undefined), waitMs);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received);
      if (match) finish(Number(match[1]));
    });
    socket.on('error', () => finish(undefined));
    const lines = Object.entries({ host: hostname, 'content-type': 'application/json', 'content-length': String(declaredBytes), ...headers }).map(([k, v]) => `${k}: ${v}`);
    socket.once('connect', () => socket.write(`POST /v1/batch HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n`));
  });
}
