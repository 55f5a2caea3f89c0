// One keep-alive HTTP/1.1 connection over a raw socket, with at most one request in flight: the
// load generators' own client. Written on net rather than http.Agent so a generator pays almost
// nothing per request besides the socket (it shares the server's two cores) and sees each
// response's head as it came, Retry-After included.
import net from 'node:net';

const HEADER_END = Buffer.from('\r\n\r\n');

/** One keep-alive connection with at most one request in flight. */
export class Connection {
  private readonly socket: net.Socket;
  private pending: Buffer = Buffer.alloc(0);
  private dueAt = 0;
  private sentAt = 0;
  busy = false;
  failed = false;
  private readonly done: (conn: Connection, dueAt: number, sentAt: number, status: number, head: string) => void;
  private readonly broken: (conn: Connection) => void;
  private readonly unasked: () => void;

  constructor(host: string, port: number, done: (conn: Connection, dueAt: number, sentAt: number, status: number, head: string) => void, broken: (conn: Connection) => void, unasked: () => void) {
    this.done = done;
    this.broken = broken;
    this.unasked = unasked;
    this.socket = net.connect({ host, port, noDelay: true });
    this.socket.on('data', (chunk) => this.onData(chunk));
    this.socket.on('error', () => this.fail());
    this.socket.on('close', () => this.fail());
  }

  send(request: Buffer, dueAt: number): void {
    this.busy = true;
    this.dueAt = dueAt;
    this.sentAt = performance.now();
    this.socket.write(request);
  }

  close(): void {
    this.failed = true;
    this.socket.destroy();
  }

  /** `broken` hears of every connection lost, busy or idle (a server may close idle ones too). */
  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    this.broken(this);
  }

  private onData(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const headerEnd = this.pending.indexOf(HEADER_END);
    if (headerEnd < 0) return;
    const head = this.pending.toString('latin1', 0, headerEnd);
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    if (!length) { this.socket.destroy(new Error('response without content-length')); return; }
    const total = headerEnd + 4 + Number(length[1]);
    if (this.pending.length < total) return;
    this.pending = this.pending.subarray(total);
    if (!this.busy) { this.unasked(); return; }
    this.busy = false;
    this.done(this, this.dueAt, this.sentAt, Number(head.slice(9, 12)), head);
  }
}
