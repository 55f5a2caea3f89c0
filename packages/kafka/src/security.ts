// How Inlet's programs reach a Kafka cluster that wants TLS or SASL (every managed one: MSK,
// Confluent Cloud, Aiven, Redpanda Cloud): the settings' rules and the one object every client is
// built with. The server, `inlet topics create`, the failed-events and live readers and the
// processor all read their settings through here, so they agree on the names, the checks and the
// messages. Client-free like contract.ts (the server checks its settings before loading the client).
//
// What the client offers and is left out: OAUTHBEARER (a token provider, not a setting) and GSSAPI
// (needs a custom authenticator); client certificates (mutual TLS) — none of the managed services
// above requires them for SASL users.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { boolean, invalid, object, refuse, text, then, type Rule } from '@inlet/schema/settings';

export const SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** What every client is built with. A plain object: the server's producer thread gets it through workerData. */
export interface KafkaSecurity {
  /** TLS to the brokers; `ca` (PEM) replaces the system's CAs */
  tls?: { ca?: string };
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
}

/** As the providers spell it too (SCRAM-SHA-512). */
export const saslMechanism: Rule<SaslMechanism> = then(text(), (value) => {
  const mechanism = value.toLowerCase() as SaslMechanism;
  if (!SASL_MECHANISMS.includes(mechanism)) refuse(`must be one of ${SASL_MECHANISMS.join(', ')}, got ${JSON.stringify(value.slice(0, 40))}`);
  return mechanism;
});
export const saslUsername = text();
/** Never shown in a message. */
export const saslPassword = text({ secret: true });
export const useTls = boolean();

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A path to a PEM file of CA certificates; read once, when the setting is checked, and turned into its text. */
export const tlsCaFile: Rule<string> = then(text(), (path) => {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    refuse(`must be a readable PEM file of CA certificates: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message} reading ${JSON.stringify(path)}`);
  }
  const certificates = pem.match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0) refuse(`must be a PEM file of CA certificates (-----BEGIN CERTIFICATE-----), and ${JSON.stringify(path)} holds none`);
  for (const certificate of certificates) {
    try {
      new X509Certificate(certificate);
    } catch {
      refuse(`must hold valid PEM certificates, and one in ${JSON.stringify(path)} does not parse`);
    }
  }
  return pem;
});

/** For options given in code (the clients', the processor's `security`). */
export const kafkaSecurity: Rule<KafkaSecurity> = object({
  tls: object({ ca: text().optional() }).optional(),
  sasl: object({ mechanism: saslMechanism, username: saslUsername, password: saslPassword }).optional(),
});

/** The five settings as a program reads them (the CA file already read by tlsCaFile). */
export interface SecuritySettings {
  tls?: boolean;
  tlsCa?: string;
  saslMechanism?: SaslMechanism;
  saslUsername?: string;
  saslPassword?: string;
}

/**
 * The settings put together: a CA file implies TLS; SASL needs all three of mechanism, username and
 * password. `names` are the settings as the user spelled them (KAFKA_SASL_USERNAME, --sasl-username),
 * for the message. Undefined when nothing is asked for: plaintext, as before.
 */
export function securityFrom(s: SecuritySettings, names: { saslMechanism: string; saslUsername: string; saslPassword: string }): KafkaSecurity | undefined {
  const given = (['saslMechanism', 'saslUsername', 'saslPassword'] as const).filter((k) => s[k] !== undefined);
  if (given.length > 0 && given.length < 3) {
    const missing = (['saslMechanism', 'saslUsername', 'saslPassword'] as const).find((k) => s[k] === undefined)!;
    throw invalid(names[missing], `must be set too: SASL needs ${names.saslMechanism}, ${names.saslUsername} and ${names.saslPassword} together (${given.map((k) => names[k]).join(', ')} given)`);
  }
  const security: KafkaSecurity = {};
  if (s.tls || s.tlsCa !== undefined) security.tls = s.tlsCa === undefined ? {} : { ca: s.tlsCa };
  if (given.length === 3) security.sasl = { mechanism: s.saslMechanism!, username: s.saslUsername!, password: s.saslPassword! };
  return security.tls || security.sasl ? security : undefined;
}
