// inletCollect against a real Inlet server, for each of its three shapes (Express, Fastify, a
// fetch-style handler): what it forwards, the identity cookie, the end user's address, consent,
// and the requests it must refuse or cut short. The browser's side is collect-chromium.*.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import express from 'express';
import { startInlet, type TestInlet } from '@inlet/testkit';
import type { NormalizedRecord } from '@inlet/schema';
import { CollectError, inletCollect } from '@inlet/node';
import { cookieOf, rawRequest, startApp, startExpressApp, startTarget, type App, type Kind, type Target } from './support/collect-apps.ts';
import { until } from './support/proxy.ts';

const SECRET = 'collect-test-secret-0123456789';
const APP_ADDRESS = '127.0.0.3';
const KINDS: Kind[] = ['express', 'fastify', 'fetch'];

/** The app reaches Inlet from its own loopback address, so its address and the browser's differ. */
const fromApp = () => new http.Agent({ keepAlive: true, localAddress: APP_ADDRESS });

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

async function storedWith(inlet: TestInlet, tag: string, count: number): Promise<NormalizedRecord[]> {
  let found: NormalizedRecord[] = [];
  await until(async () => (found = (await inlet.events()).filter((e) => e.properties?.tag === tag)).length >= count, `${count} events tagged ${tag}`);
  return found;
}

/** An address nothing listens on. */
async function closedPort(): Promise<string> {
  const target = await startTarget();
  await target.close();
  return target.url;
}

describe('inletCollect', () => {
  let inlet: TestInlet;
  before(async () => {
    // The app's address is trusted for X-Forwarded-For; the signed header is tested further down.
    inlet = await startInlet({ trustedProxies: [APP_ADDRESS], proxySecret: SECRET });
  });
  after(() => inlet.close());

  for (const kind of KINDS) {
    describe(kind, () => {
      let app: App;
      const errors: CollectError[] = [];
      before(async () => {
        app = await startApp(kind, { target: inlet.url, path: '/_i', agent: fromApp(), onError: (e: CollectError) => errors.push(e) });
      });
      after(() => app.close());

      test('serves the SDK file at /_i/sdk.js: the bytes the Inlet server serves, gzipped when asked', async () => {
        const direct = Buffer.from(await (await fetch(`${inlet.url}/sdk/inlet.min.js`)).arrayBuffer());
        const res = await fetch(`${app.url}/_i/sdk.js`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type') ?? '', /javascript/);
        assert.ok(Buffer.from(await res.arrayBuffer()).equals(direct), 'same bytes');
        assert.equal(res.headers.get('set-cookie'), null, 'no cookie on a cacheable file');
        if (kind !== 'fetch') {
          // The raw bytes: fetch() would decompress them itself.
          const raw = await new Promise<{ encoding?: string; body: Buffer }>((resolve, reject) => {
            http.get(`${app.url}/_i/sdk.js`, { headers: { 'accept-encoding': 'gzip' } }, (r) => {
              const chunks: Buffer[] = [];
              r.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ encoding: r.headers['content-encoding'], body: Buffer.concat(chunks) }));
            }).on('error', reject);
          });
          assert.equal(raw.encoding, 'gzip');
          assert.ok(gunzipSync(raw.body).equals(direct));
        }
        const head = await fetch(`${app.url}/_i/sdk.js`, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal((await head.arrayBuffer()).byteLength, 0);
      });

      test('events without an anonymousId get the cookie\'s id; the cookie is httpOnly, SameSite=Lax, for a year, scoped to /_i, and renewed with the same id on use', async () => {
        const tag = `${kind}-identity`;
        const first = await post(`${app.url}/_i/v1/batch`, { writeKey: inlet.writeKey, batch: [{ type: 'track', event: 'First', properties: { tag } }] });
        assert.equal(first.status, 200, await first.clone().text());
        const cookie = cookieOf(first.headers.getSetCookie());
        assert.ok(cookie, 'the first answer sets the identity cookie');
        assert.match(cookie.value, /^[0-9a-f-]{36}$/);
        assert.deepEqual(cookie.attributes, { 'max-age': '31536000', path: '/_i', httponly: true, samesite: 'Lax' }, 'not Secure on http');

        const again = await post(`${app.url}/_i/v1/track`, { writeKey: inlet.writeKey, event: 'Second', properties: { tag } }, { cookie: `session=app-secret; inlet_id=${cookie.value}` });
        assert.equal(again.status, 200);
        const renewed = cookieOf(again.headers.getSetCookie());
        assert.equal(renewed?.value, cookie.value, 'same id');
        assert.equal(renewed?.attributes['max-age'], '31536000', 'another year from now');

        const events = await storedWith(inlet, tag, 2);
        assert.deepEqual(events.map((e) => e.anonymousId), [cookie.value, cookie.value]);
      });

      test('the site\'s own Basic credentials, which browsers add to same-origin requests, stay in the app; a write key goes on', async () => {
        const tag = `${kind}-site-auth`;
        const site = `Basic ${Buffer.from('staging-user:staging-password').toString('base64')}`;
        const withSite = await post(`${app.url}/_i/v1/batch`, { writeKey: inlet.writeKey, batch: [{ type: 'track', event: 'Behind a password', properties: { tag } }] }, { authorization: site });
        assert.equal(withSite.status, 200, await withSite.clone().text());
        const key = `Basic ${Buffer.from(`${inlet.writeKey}:`).toString('base64')}`;
        const withKey = await post(`${app.url}/_i/v1/batch`, { batch: [{ type: 'track', event: 'Key in the header', properties: { tag } }] }, { authorization: key });
        assert.equal(withKey.status, 200, await withKey.clone().text());
        assert.equal((await storedWith(inlet, tag, 2)).length, 2);
      });

      test('an event that carries its own anonymousId keeps it; a userId-only event gets the cookie\'s id too', async () => {
        const tag = `${kind}-own-id`;
        const res = await post(`${app.url}/_i/v1/batch`, { writeKey: inlet.writeKey, batch: [
          { type: 'track', event: 'Own', anonymousId: 'browser-made-id', properties: { tag } },
          { type: 'identify', userId: 'user-9', traits: {}, properties: { tag } },
        ] });
        const id = cookieOf(res.headers.getSetCookie())!.value;
        const events = await storedWith(inlet, tag, 2);
        assert.equal(events.find((e) => e.type === 'track')?.anonymousId, 'browser-made-id');
        assert.equal(events.find((e) => e.type === 'identify')?.anonymousId, id);
      });

      test(`the stored address is the browser's as the app sees it (127.0.0.1), not the app's own (${APP_ADDRESS})`, async () => {
        const tag = `${kind}-ip`;
        // A browser's own X-Forwarded-For is not believed: the app does not trust its peer.
        await post(`${app.url}/_i/v1/track`, { writeKey: inlet.writeKey, event: 'Ip', properties: { tag } }, kind === 'fetch' ? {} : { 'x-forwarded-for': '198.51.100.66' });
        const [event] = await storedWith(inlet, tag, 1);
        assert.equal(event.context?.ip, '127.0.0.1');
      });

      test('the site\'s cookies and other headers stay in the app: Inlet gets only what it needs', async () => {
        const target = await startTarget();
        const spy = await startApp(kind, { target: target.url, agent: fromApp() });
        try {
          await post(`${spy.url}/_i/v1/batch`, '{"batch":[]}', { cookie: 'session=app-secret; inlet_id=0b5e1e9c-4a4f-4c4e-9f0b-3f0e4c1d2a7b', 'x-csrf-token': 'tok', authorization: 'Basic d2tfdGVzdDo=' });
          assert.equal(target.seen.length, 1);
          const h = target.seen[0].headers;
          assert.equal(h.cookie, undefined);
          assert.equal(h['x-csrf-token'], undefined);
          assert.equal(h.authorization, 'Basic d2tfdGVzdDo=', 'the write key may travel in Authorization');
          assert.equal(h['x-inlet-device-id'], '0b5e1e9c-4a4f-4c4e-9f0b-3f0e4c1d2a7b');
          assert.equal(h['x-forwarded-for'], '127.0.0.1');
          assert.equal(h.host, new URL(target.url).host);
          assert.equal(target.seen[0].path, '/v1/batch');
        } finally {
          await spy.close();
          await target.close();
        }
      });

      describe('bad input', () => {
        let target: Target;
        let guarded: App;
        before(async () => {
          target = await startTarget();
          guarded = await startApp(kind, { target: target.url, maxBodyBytes: 64 * 1024 });
        });
        after(async () => {
          await guarded.close();
          await target.close();
        });

        test('paths outside the table are refused and never reach Inlet: dot segments, encoded dots, doubled slashes, unknown files, absolute URLs', async () => {
          target.seen.length = 0;
          // A fetch-style handler gets a Request, whose URL the platform has already resolved:
          // these two are then plainly /_i/sdk.js and /_i/v1/batch, table routes, and may be forwarded as such.
          const resolvedByUrlParser = new Map([['GET /_i/./sdk.js HTTP/1.1', '/sdk/inlet.min.js'], ['POST /_i/v1/../v1/batch HTTP/1.1', '/v1/batch']]);
          const attempts = [
            'GET /_i/../admin HTTP/1.1',
            'GET /_i/./sdk.js HTTP/1.1',
            'GET /_i/%2e%2e/admin HTTP/1.1',
            'GET /_i/..%2fadmin HTTP/1.1',
            'POST /_i//v1/batch HTTP/1.1',
            'POST /_i/v1/../v1/batch HTTP/1.1',
            'GET /_i/sdk/inlet.min.js HTTP/1.1',
            'GET /_i/health/ready HTTP/1.1',
            'GET /_i HTTP/1.1',
            'GET http://evil.example/_i/sdk.js HTTP/1.1',
            `POST http://127.0.0.1:${new URL(target.url).port}/_i/v1/batch HTTP/1.1`,
          ];
          const allowed: string[] = [];
          for (const line of attempts) {
            const answer = await rawRequest(guarded.port, `${line}\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
            if (kind === 'fetch' && resolvedByUrlParser.has(line)) {
              allowed.push(resolvedByUrlParser.get(line)!);
              continue;
            }
            assert.ok([400, 404].includes(answer.status), `${line} → ${answer.status}`);
          }
          assert.deepEqual(target.seen.map((s) => s.path), allowed, 'nothing else was forwarded');
        });

        test('a wrong method gets 405 with Allow', async () => {
          target.seen.length = 0;
          const res = await fetch(`${guarded.url}/_i/v1/batch`, { method: 'PUT', body: '{}' });
          assert.equal(res.status, 405);
          assert.equal(res.headers.get('allow'), 'POST');
          assert.equal(((await res.json()) as { code: string }).code, 'INLET_METHOD_NOT_ALLOWED');
          const get = await fetch(`${guarded.url}/_i/v1/batch`);
          assert.equal(get.status, 405);
          assert.deepEqual(target.seen, []);
        });

        test('another Host header changes nothing: the request goes to the configured Inlet, with its Host', async () => {
          const other = await startTarget();
          try {
            const answer = await rawRequest(guarded.port, `POST /_i/v1/batch HTTP/1.1\r\nHost: ${new URL(other.url).host}\r\nX-Forwarded-Host: evil.example\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
            assert.equal(answer.status, 200);
            assert.equal(other.seen.length, 0, 'the host named in the request got nothing');
            const last = target.seen.at(-1)!;
            assert.equal(last.headers.host, new URL(target.url).host);
            assert.equal(last.headers['x-forwarded-host'], undefined);
          } finally {
            await other.close();
          }
        });

        test('a 100 MB body is cut at the limit: 413, and nothing past the limit is forwarded or held', async () => {
          target.seen.length = 0;
          const limit = 64 * 1024;
          let written = 0;
          const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
            let answered = false;
            const req = http.request(`${guarded.url}/_i/v1/batch`, { method: 'POST', headers: { 'content-type': 'text/plain' } }, (res) => {
              answered = true;
              let body = '';
              res.on('data', (c) => { body += c; }).on('end', () => {
                resolve({ status: res.statusCode!, body });
                req.destroy();
              });
            });
            // Writing on after the answer may fail (the proxy closes the connection): expected.
            req.on('error', (error) => { if (!answered) reject(error); });
            const chunk = Buffer.alloc(64 * 1024, 'a');
            const pump = () => {
              while (written < 100 * 1024 * 1024 && !answered && !req.destroyed) {
                written += chunk.length;
                if (!req.write(chunk)) return void req.once('drain', pump);
              }
              if (!answered && !req.destroyed) req.end();
            };
            pump();
          });
          assert.equal(answer.status, 413);
          assert.equal(JSON.parse(answer.body).code, 'INLET_BODY_TOO_LARGE');
          assert.ok(written < 100 * 1024 * 1024, `answered before the whole body was sent (${written} bytes written)`);
          // The cut request is aborted, so Inlet could store nothing from it.
          await until(() => target.seen.every((s) => s.aborted), 'the forwarded part to be aborted');
          assert.ok(target.seen.length <= 1);
          for (const s of target.seen) assert.ok(s.bytes <= limit, `Inlet got ${s.bytes} bytes, the limit is ${limit}`);
          // The app still answers afterwards.
          assert.equal((await fetch(`${guarded.url}/`)).status, 200);
        });

        test('a body that stops arriving gets 408 after timeoutMs, and what reached Inlet is aborted', async () => {
          const slowTarget = await startTarget();
          const slow = await startApp(kind, { target: slowTarget.url, timeoutMs: 300, onError: () => {} });
          try {
            // Half a body, then nothing.
            const answer = await rawRequest(slow.port, 'POST /_i/v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n{"batch":[');
            assert.equal(answer.status, 408);
            assert.equal(JSON.parse(answer.body).code, 'INLET_REQUEST_TIMEOUT');
            await until(() => slowTarget.seen.every((s) => s.aborted), 'the forwarded part to be aborted');
          } finally {
            await slow.close();
            await slowTarget.close();
          }
        });

        test('a declared Content-Length over the limit gets 413 before any body is read', async () => {
          target.seen.length = 0;
          const answer = await rawRequest(guarded.port, `POST /_i/v1/batch HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`);
          assert.equal(answer.status, 413);
          assert.deepEqual(target.seen, []);
        });
      });

      test('Inlet down: 503 with Retry-After at once, the app\'s own pages unaffected, reported without payloads or cookies', async () => {
        const reported: CollectError[] = [];
        const down = await startApp(kind, { target: await closedPort(), onError: (e: CollectError) => reported.push(e) });
        const warnings: string[] = [];
        const warn = console.warn;
        console.warn = (...args: unknown[]) => { warnings.push(args.join(' ')); };
        const quiet = await startApp(kind, { target: await closedPort() });
        try {
          for (const a of [down, quiet]) {
            const res = await post(`${a.url}/_i/v1/batch`, { writeKey: 'wk_marker', batch: [{ type: 'track', event: 'personal-data-marker' }] }, { cookie: 'inlet_id=0b5e1e9c-4a4f-4c4e-9f0b-3f0e4c1d2a7b' });
            assert.equal(res.status, 503);
            assert.equal(res.headers.get('retry-after'), '5');
            assert.equal(((await res.json()) as { code: string }).code, 'INLET_UPSTREAM_UNAVAILABLE');
            assert.equal((await fetch(`${a.url}/`)).status, 200, 'the app answers its own pages');
          }
          assert.equal(reported.length, 1);
          assert.equal(reported[0].code, 'INLET_UPSTREAM_UNAVAILABLE');
          assert.match(reported[0].message, /POST \/_i\/v1\/batch.*ECONNREFUSED/);
          assert.equal(warnings.length, 1, 'the default reports on the console');
          for (const text of [...reported.map((e) => e.message), ...warnings]) {
            assert.doesNotMatch(text, /personal-data-marker|wk_marker|0b5e1e9c/, 'no payload, write key or cookie in what is reported');
          }
        } finally {
          console.warn = warn;
          await down.close();
          await quiet.close();
        }
      });

      test('Inlet not answering: 503 after timeoutMs while the app\'s own pages are answered', async () => {
        const hanging = await startTarget(true);
        const slow = await startApp(kind, { target: hanging.url, timeoutMs: 500, onError: () => {} });
        try {
          const pending = post(`${slow.url}/_i/v1/batch`, '{"batch":[]}');
          await until(() => hanging.seen.length === 1, 'the request to reach the hanging server');
          assert.equal((await fetch(`${slow.url}/`)).status, 200, 'the app answers while Inlet hangs');
          const res = await pending;
          assert.equal(res.status, 503);
          assert.equal(res.headers.get('retry-after'), '5');
        } finally {
          await slow.close();
          await hanging.close();
        }
      });

      test('without consent: no cookie (an existing one is deleted), and events still arrive, each request under a new random id', async () => {
        const tag = `${kind}-no-consent`;
        const app2 = await startApp(kind, {
          target: inlet.url,
          agent: fromApp(),
          consent: (req: any) => String(kind === 'fetch' ? req.headers.get('cookie') : req.headers.cookie).includes('consent=yes'),
        });
        try {
          const body = (i: number) => ({ writeKey: inlet.writeKey, batch: [{ type: 'track', event: 'NoConsent', properties: { tag, i } }] });
          const fresh = await post(`${app2.url}/_i/v1/batch`, body(1));
          assert.equal(fresh.status, 200);
          assert.deepEqual(fresh.headers.getSetCookie(), [], 'no cookie without consent');
          const withdrawn = await post(`${app2.url}/_i/v1/batch`, body(2), { cookie: 'inlet_id=0b5e1e9c-4a4f-4c4e-9f0b-3f0e4c1d2a7b' });
          const cleared = cookieOf(withdrawn.headers.getSetCookie());
          assert.equal(cleared?.value, '', 'the existing cookie is deleted');
          assert.equal(cleared?.attributes['max-age'], '0');
          const granted = await post(`${app2.url}/_i/v1/batch`, body(3), { cookie: 'consent=yes' });
          const given = cookieOf(granted.headers.getSetCookie());
          assert.ok(given?.value, 'with consent the cookie is set');

          const events = await storedWith(inlet, tag, 3);
          const id = (i: number) => events.find((e) => e.properties?.i === i)!.anonymousId;
          assert.notEqual(id(1), id(2), 'nothing links one request to the next');
          assert.notEqual(id(2), '0b5e1e9c-4a4f-4c4e-9f0b-3f0e4c1d2a7b', 'the withdrawn cookie\'s id is not used');
          assert.equal(id(3), given!.value);
        } finally {
          await app2.close();
        }
      });

      test('a consent function that throws counts as no consent, and is reported', async () => {
        const reported: CollectError[] = [];
        const app2 = await startApp(kind, { target: inlet.url, consent: () => { throw new Error('consent store down: user@example.com'); }, onError: (e: CollectError) => reported.push(e) });
        try {
          const res = await post(`${app2.url}/_i/v1/batch`, { writeKey: inlet.writeKey, batch: [{ type: 'track', event: 'X', properties: { tag: `${kind}-consent-throws` } }] });
          assert.equal(res.status, 200);
          assert.deepEqual(res.headers.getSetCookie(), []);
          assert.equal(reported[0]?.code, 'INLET_CONSENT_FAILED');
          assert.doesNotMatch(reported[0].message, /user@example\.com/, 'the error\'s message is not repeated');
        } finally {
          await app2.close();
        }
      });
    });
  }

  describe('the end user\'s address, signed', () => {
    let signedInlet: TestInlet;
    before(async () => {
      // No TRUSTED_PROXIES: only the signature can make Inlet believe the address.
      signedInlet = await startInlet({ proxySecret: SECRET });
    });
    after(() => signedInlet.close());

    for (const kind of KINDS) {
      test(`${kind}: with the server's secret the browser's address is stored; with another secret, the app's own`, async () => {
        const good = await startApp(kind, { target: signedInlet.url, agent: fromApp(), secret: SECRET });
        const bad = await startApp(kind, { target: signedInlet.url, agent: fromApp(), secret: 'not-the-server-secret-at-all' });
        try {
          for (const [a, tag] of [[good, `${kind}-signed`], [bad, `${kind}-badly-signed`]] as const) {
            const res = await post(`${a.url}/_i/v1/track`, { writeKey: signedInlet.writeKey, event: 'Signed', properties: { tag } });
            assert.equal(res.status, 200);
          }
          const [signed] = await storedWith(signedInlet, `${kind}-signed`, 1);
          const [badly] = await storedWith(signedInlet, `${kind}-badly-signed`, 1);
          assert.equal(signed.context?.ip, '127.0.0.1');
          assert.equal(badly.context?.ip, APP_ADDRESS, 'a signature Inlet cannot verify is not believed');
        } finally {
          await good.close();
          await bad.close();
        }
      });
    }
  });

  describe('express specifics', () => {
    test('works after body parsers too: the parsed body is forwarded', async () => {
      const tag = 'express-parsed';
      const app = await startExpressApp({ target: inlet.url }, { before: [express.json(), express.text()] });
      try {
        assert.equal((await post(`${app.url}/_i/v1/batch`, { writeKey: inlet.writeKey, batch: [{ type: 'track', event: 'Json', properties: { tag, i: 1 } }] }, { 'content-type': 'application/json' })).status, 200);
        assert.equal((await post(`${app.url}/_i/v1/batch`, { writeKey: inlet.writeKey, batch: [{ type: 'track', event: 'Text', properties: { tag, i: 2 } }] })).status, 200);
        assert.equal((await storedWith(inlet, tag, 2)).length, 2);
      } finally {
        await app.close();
      }
    });

    test('Secure when the page is https (Express\'s trust proxy and X-Forwarded-Proto), and the address from the app\'s trusted proxy', async () => {
      const tag = 'express-https';
      const app = await startExpressApp({ target: inlet.url, agent: fromApp() }, { trustProxy: true });
      try {
        const res = await post(`${app.url}/_i/v1/track`, { writeKey: inlet.writeKey, event: 'Tls', properties: { tag } }, { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' });
        assert.equal(cookieOf(res.headers.getSetCookie())?.attributes.secure, true);
        const [event] = await storedWith(inlet, tag, 1);
        assert.equal(event.context?.ip, '203.0.113.9', 'the app trusts its proxy, so req.ip is the client behind it');
      } finally {
        await app.close();
      }
    });

    test('requests outside the prefix go on to the app untouched', async () => {
      const app = await startExpressApp({ target: await closedPort() });
      try {
        for (const path of ['/', '/_ix', '/_i-other', '/other/_i/sdk.js']) {
          const res = await fetch(`${app.url}${path}`);
          assert.equal(res.status, path === '/' ? 200 : 404, path);
          assert.doesNotMatch(await res.text(), /INLET_/, `${path} is the app's own answer`);
        }
      } finally {
        await app.close();
      }
    });
  });

  test('fetch handler: Secure when the request is https', async () => {
    const handle = inletCollect.handler({ target: inlet.url });
    const res = await handle(new Request('https://shop.example/_i/v1/batch', { method: 'POST', body: JSON.stringify({ writeKey: inlet.writeKey, batch: [{ type: 'track', event: 'Tls', properties: { tag: 'fetch-https' } }] }) }));
    assert.equal(res.status, 200);
    assert.equal(cookieOf(res.headers.getSetCookie())?.attributes.secure, true);
  });

  test('the README shows the page snippet that the Chromium proof runs', () => {
    const readme = readFileSync(join(import.meta.dirname, '../README.md'), 'utf8');
    const snippet = readFileSync(join(import.meta.dirname, 'fixtures/collect-snippet.js'), 'utf8').trim();
    assert.ok(readme.includes(snippet), 'packages/node/README.md and test/fixtures/collect-snippet.js differ');
  });

  test('bad options fail at once, naming the option', () => {
    const fails = (options: unknown, naming: RegExp) => assert.throws(() => inletCollect(options as never), (e: Error) => e.name === 'InvalidSettingError' && (e as { code?: string }).code === 'INLET_INVALID_SETTING' && naming.test(e.message));
    fails(undefined, /options/);
    fails({ target: 'inlet.internal:8080' }, /target/);
    fails({ target: 'ftp://inlet.internal' }, /target/);
    fails({ target: 'http://user:pw@inlet.internal' }, /target/);
    fails({ target: 'http://inlet.internal', path: '_i' }, /path/);
    fails({ target: 'http://inlet.internal', path: '/_i/' }, /path/);
    fails({ target: 'http://inlet.internal', path: '/a/../b' }, /path/);
    fails({ target: 'http://inlet.internal', secret: 'short' }, /secret/);
    fails({ target: 'http://inlet.internal', maxBodyBytes: 0 }, /maxBodyBytes/);
    fails({ target: 'http://inlet.internal', consent: true }, /consent/);
    // An agent that is none, or of the other protocol, failed every request later (a 500 from the app).
    fails({ target: 'http://inlet.internal', agent: 'nonsense' }, /agent must be an http\.Agent/);
    fails({ target: 'http://inlet.internal', agent: {} }, /agent/);
    fails({ target: 'http://inlet.internal', agent: new https.Agent() }, /agent must be an http\.Agent \(not an https\.Agent\)/);
    fails({ target: 'https://inlet.internal', agent: new http.Agent() }, /agent must be an https\.Agent/);
    assert.doesNotThrow(() => inletCollect({ target: 'https://inlet.internal', agent: new https.Agent() }));
    assert.doesNotThrow(() => inletCollect({ target: 'http://inlet.internal:8080/base/', path: '/collect/v2' }));
  });
});
