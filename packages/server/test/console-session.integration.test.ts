// The console's session cookie against real servers: Secure when the browser came over HTTPS (a
// trusted proxy's X-Forwarded-Proto), not from anyone else's word nor over plain HTTP.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startInlet } from '@inlet/testkit';
import { request, type RawReply } from './http-client.ts';

const CSRF = { 'x-inlet-csrf': '1' };

const login = (adminUrl: string, token: string, headers: Record<string, string> = {}): Promise<RawReply> =>
  request(adminUrl, '/api/session', { method: 'POST', headers: { 'content-type': 'application/json', ...CSRF, ...headers }, body: JSON.stringify({ token }) });

/** The first Set-Cookie header, whole (name=value and attributes). */
const setCookie = (reply: RawReply): string => String(reply.headers['set-cookie']?.[0] ?? '');
/** What a browser sends back (or an attacker copies): name=value. */
const cookieOf = (reply: RawReply): string => setCookie(reply).split(';')[0];

const signOut = (adminUrl: string, cookie: string, headers: Record<string, string> = {}) =>
  request(adminUrl, '/api/session', { method: 'DELETE', headers: { cookie, ...CSRF, ...headers } });

const withSession = (adminUrl: string, cookie: string, path = '/api/session') =>
  request(adminUrl, path, { method: 'GET', headers: { cookie } });

const isSecure = (setCookieHeader: string) => /;\s*Secure(;|$)/i.test(setCookieHeader);

describe('the session cookie is Secure when the browser used HTTPS', () => {
  test('behind a trusted proxy saying X-Forwarded-Proto: https the cookie (and its clearing at sign-out) is Secure; saying http, it is not', async () => {
    const inlet = await startInlet({ trustedProxies: ['127.0.0.1'] });
    try {
      const https = await login(inlet.adminUrl, inlet.adminToken!, { 'x-forwarded-proto': 'https' });
      assert.equal(https.status, 200, https.text);
      assert.ok(isSecure(setCookie(https)), setCookie(https));
      assert.match(setCookie(https), /; HttpOnly; SameSite=Strict/);
      const out = await signOut(inlet.adminUrl, cookieOf(https), { 'x-forwarded-proto': 'https' });
      assert.equal(out.status, 200, out.text);
      assert.match(setCookie(out), /^inlet_session=; .*Max-Age=0/);
      assert.ok(isSecure(setCookie(out)), `cleared as it was set: ${setCookie(out)}`);

      const http = await login(inlet.adminUrl, inlet.adminToken!, { 'x-forwarded-proto': 'http' });
      assert.equal(http.status, 200);
      assert.ok(!isSecure(setCookie(http)), setCookie(http));
      // Proxies that append: the last value is the one the trusted peer itself set.
      assert.ok(isSecure(setCookie(await login(inlet.adminUrl, inlet.adminToken!, { 'x-forwarded-proto': 'http, https' }))));
      assert.ok(!isSecure(setCookie(await login(inlet.adminUrl, inlet.adminToken!, { 'x-forwarded-proto': 'https, http' }))));
    } finally {
      await inlet.close();
    }
  });

  test('X-Forwarded-Proto from a peer that is not a trusted proxy is ignored, and over plain HTTP (the default) the cookie is not Secure and works', async () => {
    const elsewhere = await startInlet({ trustedProxies: ['192.0.2.1'] });
    const plain = await startInlet();
    try {
      for (const inlet of [elsewhere, plain]) {
        const claimed = await login(inlet.adminUrl, inlet.adminToken!, { 'x-forwarded-proto': 'https' });
        assert.equal(claimed.status, 200, claimed.text);
        assert.ok(!isSecure(setCookie(claimed)), `the client's own word: ${setCookie(claimed)}`);
        const reply = await login(inlet.adminUrl, inlet.adminToken!);
        assert.ok(!isSecure(setCookie(reply)), setCookie(reply));
        assert.equal((await withSession(inlet.adminUrl, cookieOf(reply), '/api/sources')).status, 200, 'the plain-HTTP cookie is sent back and works');
      }
    } finally {
      await Promise.all([elsewhere.close(), plain.close()]);
    }
  });
});
