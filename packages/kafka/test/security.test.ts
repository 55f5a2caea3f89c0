// The TLS and SASL settings' rules, as every program reads them: what goes together, what each
// refusal says, and that the password is never in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkSetting } from '@inlet/schema/settings';
import { saslMechanism, saslPassword, securityFrom } from '../src/security.ts';

const NAMES = { saslMechanism: 'KAFKA_SASL_MECHANISM', saslUsername: 'KAFKA_SASL_USERNAME', saslPassword: 'KAFKA_SASL_PASSWORD' };

test('nothing asked is plaintext; a CA file implies TLS; TLS alone trusts the system CAs', () => {
  assert.equal(securityFrom({}, NAMES), undefined);
  assert.deepEqual(securityFrom({ tls: true }, NAMES), { tls: {} });
  assert.deepEqual(securityFrom({ tlsCa: 'PEM' }, NAMES), { tls: { ca: 'PEM' } });
});

test('SASL needs mechanism, username and password together, and says which is missing', () => {
  assert.deepEqual(securityFrom({ saslMechanism: 'plain', saslUsername: 'u', saslPassword: 'p' }, NAMES), { sasl: { mechanism: 'plain', username: 'u', password: 'p' } });
  assert.throws(() => securityFrom({ saslMechanism: 'plain', saslUsername: 'u' }, NAMES), /KAFKA_SASL_PASSWORD must be set too/);
  assert.throws(() => securityFrom({ saslUsername: 'u', saslPassword: 'secret-value' }, NAMES), (error: Error) => /KAFKA_SASL_MECHANISM/.test(error.message) && !error.message.includes('secret-value'));
});

test('a mechanism is read as the providers spell it too; an unknown one is refused naming the choices', () => {
  assert.equal(checkSetting('KAFKA_SASL_MECHANISM', saslMechanism, 'SCRAM-SHA-512'), 'scram-sha-512');
  assert.throws(() => checkSetting('KAFKA_SASL_MECHANISM', saslMechanism, 'oauthbearer'), /must be one of plain, scram-sha-256, scram-sha-512/);
});

test('a password that breaks its rule is not quoted', () => {
  assert.throws(() => checkSetting('KAFKA_SASL_PASSWORD', saslPassword, 42), (error: Error) => !error.message.includes('42'));
});
