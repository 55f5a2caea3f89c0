// A client on TLS names the broker it connects to in the handshake (SNI): the proxies in front of
// managed Kafka (Confluent Cloud's) route on that name, and Node sends none unless asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { createAdmin, forceClose } from '../src/clients.ts';

test('a TLS client sends the broker\'s host name (SNI), and none for a broker named by address', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-sni-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1'], { stdio: 'ignore' });
    const cert = readFileSync(join(dir, 'cert.pem'), 'utf8');
    const names: (string | false)[] = [];
    const server = tls.createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (socket) => { names.push(socket.servername ?? false); socket.destroy(); });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    try {
      for (const host of ['localhost', '127.0.0.1']) {
        const admin = createAdmin({ brokers: [`${host}:${port}`], clientId: 'sni-test', security: { tls: { ca: cert } }, retries: 0, connectTimeoutMs: 2000, requestTimeoutMs: 2000 });
        const seen = names.length;
        await admin.metadata({ topics: [] }).catch(() => undefined);
        await forceClose(admin);
        assert.ok(names.length > seen, `${host}: a handshake reached the server`);
        assert.equal(names[seen], host === 'localhost' ? 'localhost' : false, host);
      }
    } finally {
      server.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
