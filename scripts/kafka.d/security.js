// Secured listeners for a local test cluster (`start --sasl-port`, `--ssl-port`, `--sasl-ssl-port`),
// so tests can check what managed Kafka asks of a client: SASL (PLAIN and SCRAM, one user) without
// TLS, TLS with a certificate from a CA made here, and both together (SASL_SSL, what MSK, Confluent
// Cloud and Aiven use). The PLAINTEXT listener stays for the brokers' own traffic
// and the readiness probe. Certificates come from keytool, which ships with the JDK that runs the
// brokers; the user and its password are made per cluster and recorded in cluster.json.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

export const SASL_USER = 'inlet';
const SCRAM = ['SCRAM-SHA-256', 'SCRAM-SHA-512'];

function keytool(args, what) {
  const result = spawnSync('keytool', args, { encoding: 'utf8' });
  if (result.error) throw new Error(`cannot run keytool (it comes with the JDK): ${result.error.message}`);
  if (result.status !== 0) throw new Error(`keytool ${what} failed (exit ${result.status}): ${(result.stdout + result.stderr).trim()}`);
}

/**
 * A CA, and a broker keystore (PKCS12) whose certificate it signed for `host` and localhost, in
 * `dir`. Valid for a few days: test clusters are short-lived. Returns what server.properties and
 * clients need.
 */
function makeCertificates(dir, host) {
  mkdirSync(dir, { recursive: true });
  const storePassword = randomBytes(12).toString('hex');
  const ca = join(dir, 'ca.p12');
  const keystore = join(dir, 'broker.p12');
  const caFile = join(dir, 'ca.pem');
  const common = ['-storetype', 'PKCS12', '-storepass', storePassword, '-keypass', storePassword];
  const san = `SAN=ip:${host},dns:localhost`;
  keytool(['-genkeypair', '-alias', 'ca', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '7', '-dname', 'CN=inlet test CA', '-ext', 'bc:c', '-keystore', ca, ...common], 'making the CA');
  keytool(['-exportcert', '-rfc', '-alias', 'ca', '-keystore', ca, '-file', caFile, ...common], 'exporting the CA');
  keytool(['-genkeypair', '-alias', 'broker', '-keyalg', 'RSA', '-keysize', '2048', '-validity', '7', '-dname', `CN=${host}`, '-ext', san, '-keystore', keystore, ...common], 'making the broker key');
  keytool(['-certreq', '-alias', 'broker', '-keystore', keystore, '-file', join(dir, 'broker.csr'), ...common], 'making the signing request');
  keytool(['-gencert', '-alias', 'ca', '-keystore', ca, '-infile', join(dir, 'broker.csr'), '-outfile', join(dir, 'broker.pem'), '-rfc', '-validity', '7', '-ext', san, ...common], 'signing the broker certificate');
  keytool(['-importcert', '-noprompt', '-alias', 'ca', '-file', caFile, '-keystore', keystore, ...common], 'importing the CA');
  keytool(['-importcert', '-alias', 'broker', '-file', join(dir, 'broker.pem'), '-keystore', keystore, ...common], 'importing the broker certificate');
  return { caFile, keystore, storePassword };
}

/**
 * What a secured cluster adds: per node listeners (SASL_PLAINTEXT on saslPort, SSL on sslPort,
 * SASL_SSL on saslSslPort, each +i-1 for node i), the broker settings for them, and the format-time
 * SCRAM credentials. Any of the three may be left out.
 */
export function securitySetup({ dir, host, saslPort, sslPort, saslSslPort }) {
  const password = randomBytes(12).toString('hex');
  const tls = sslPort === undefined && saslSslPort === undefined ? undefined : makeCertificates(join(dir, 'tls'), host);
  const sasl = saslPort !== undefined || saslSslPort !== undefined;
  const saslListeners = [...(saslPort === undefined ? [] : ['sasl_plaintext']), ...(saslSslPort === undefined ? [] : ['sasl_ssl'])];
  const settings = {};
  if (sasl) {
    settings['sasl.enabled.mechanisms'] = ['PLAIN', ...SCRAM].join(',');
    for (const listener of saslListeners) {
      Object.assign(settings, {
        [`listener.name.${listener}.plain.sasl.jaas.config`]: `org.apache.kafka.common.security.plain.PlainLoginModule required user_${SASL_USER}="${password}";`,
        ...Object.fromEntries(SCRAM.map((m) => [`listener.name.${listener}.${m.toLowerCase()}.sasl.jaas.config`, 'org.apache.kafka.common.security.scram.ScramLoginModule required;'])),
      });
    }
  }
  if (tls) {
    Object.assign(settings, {
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': tls.keystore,
      'ssl.keystore.password': tls.storePassword,
      'ssl.key.password': tls.storePassword,
      'ssl.client.auth': 'none',
    });
  }
  return {
    /** recorded in cluster.json: what a client needs */
    state: {
      ...(sasl ? { username: SASL_USER, password } : {}),
      ...(saslPort === undefined ? {} : { saslPort }),
      ...(sslPort === undefined ? {} : { sslPort }),
      ...(saslSslPort === undefined ? {} : { saslSslPort }),
      ...(tls ? { caFile: tls.caFile } : {}),
    },
    /** extra listeners of one node */
    listeners: (node) => [
      ...(saslPort === undefined ? [] : [`SASL_PLAINTEXT://${node.host}:${saslPort + node.id - 1}`]),
      ...(sslPort === undefined ? [] : [`SSL://${node.host}:${sslPort + node.id - 1}`]),
      ...(saslSslPort === undefined ? [] : [`SASL_SSL://${node.host}:${saslSslPort + node.id - 1}`]),
    ],
    settings,
    formatArgs: !sasl ? [] : SCRAM.flatMap((m) => ['--add-scram', `${m}=[name=${SASL_USER},password=${password}]`]),
  };
}
