// What `inlet serve` says once it listens, and where the first start's secrets go.
//
// A person at a terminal (`npm start`) gets the banner as before: the addresses, the admin token
// and the default source's write key (each shown this once: the store keeps only one-way images),
// and a curl line that works. When stdout is not a terminal it is a log stream (Docker, systemd,
// Kubernetes, a log shipper): there, plain text among pino's JSON lines is unparseable, and secrets
// in it end up in every system the log is shipped to, kept for as long as the logs are. So there
// every line is pino's JSON, no secret is logged, and the banner that a terminal would have shown
// is written to a file in the data directory (0700) that only its owner may read (0600), whose
// path a warning in the log gives: what Jenkins does with its initial admin password. The file
// stays until its reader deletes it; each later start says it is still there.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BaseLogger } from 'pino';
import type { Config } from './config.ts';

type Log = Pick<BaseLogger, 'info' | 'warn' | 'error'>;

/** Where a first start that could not show its secrets on a terminal writes them, in the data directory. */
export const firstStartSecretsFile = (dataDir: string) => resolve(dataDir, 'first-start-secrets.txt');

export interface StartFacts {
  config: Config;
  /** the public listener */
  url: string;
  /** the admin listener */
  adminUrl: string;
  /** made by this start (the first one): shown this once */
  adminToken: string | undefined;
  /** the default source's key, made by this start: shown this once */
  writeKey: string | undefined;
}

function sinkLabel(config: Config): string {
  return config.kafka ? `kafka ${config.kafka.brokers.join(',')}` : `embedded ${config.dataDir}`;
}

/** The banner a terminal shows: addresses, and the secrets this start made. */
export function serveBanner({ config, url, adminUrl, adminToken, writeKey }: StartFacts): string {
  const lines = [
    `Inlet is listening on ${url} (sink: ${sinkLabel(config)})`,
    `Admin API and /metrics on ${adminUrl} (Authorization: Bearer <admin token>)`,
    `Console: ${adminUrl}/console (sign in with the admin token)`,
  ];
  if (adminToken) lines.push(`Admin token (shown this once; only a one-way image of it is kept; \`inlet admin token --rotate\` makes a new one): ${adminToken}`);
  if (writeKey) {
    // The first start made the default source: its key is shown this once (only its hash is kept).
    lines.push(`Write key of the "default" source: ${writeKey} (shown this once: only its hash is kept)`, 'Try it:',
      `  curl -s ${url}/v1/track -H 'Content-Type: application/json' -u '${writeKey}:' -d '{"userId":"user-1","event":"Signed Up","properties":{"plan":"pro"}}'`);
  } else {
    lines.push(laterStartHint(config));
  }
  return lines.join('\n');
}

function laterStartHint(config: Config): string {
  const where = config.databaseUrl ? ' (with the same DATABASE_URL)' : '';
  return `Write keys are shown only when made: \`inlet sources create --name NAME\`${where} makes a source and prints its key; \`inlet sources rotate-key default\` gives a source a new one (the old key stops working).`;
}

const STILL_THERE = 'still holds the secrets of the first start: delete it once they are kept elsewhere';

/**
 * Says that the server listens: the banner on a terminal; otherwise JSON log lines only, with the
 * secrets this start made in the first-start file. Never throws: the server is up either way.
 */
export function announceStart(facts: StartFacts, out: { isTerminal: boolean; logger: Log }): void {
  const file = firstStartSecretsFile(facts.config.dataDir);
  const leftOver = existsSync(file);
  removePartials(resolve(file, '..'));
  if (out.isTerminal) {
    console.log(serveBanner(facts) + (leftOver ? `\n${file} ${STILL_THERE}.` : ''));
    return;
  }
  const { config, url, adminUrl } = facts;
  if (facts.adminToken || facts.writeKey) keepFirstStartSecrets(facts, file, out.logger);
  else if (leftOver) out.logger.warn({ secretsFile: file }, `${file} ${STILL_THERE}`);
  out.logger.info({ url, adminUrl, consoleUrl: `${adminUrl}/console`, sink: config.kafka ? 'kafka' : 'embedded' }, `Inlet is listening on ${url} (sink: ${sinkLabel(config)})`);
  if (!facts.writeKey) out.logger.info(laterStartHint(config));
}

/** Writes the banner to the owner-only file and logs where it is (a warning: it asks for action, and must get past LOG_LEVEL=warn). */
function keepFirstStartSecrets(facts: StartFacts, file: string, logger: Log): void {
  const secrets = [facts.adminToken && 'the admin token', facts.writeKey && 'the write key of the "default" source'].filter(Boolean);
  const made = secrets.join(' and ');
  try {
    writePrivately(file, firstStartFileText(facts));
    logger.warn({ secretsFile: file }, `first start: ${made} ${secrets.length > 1 ? 'are' : 'is'} in ${file}, readable by its owner only and shown nowhere else; keep them (a secret manager), then delete the file`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    const remake = [facts.adminToken && '`inlet admin token --rotate`', facts.writeKey && '`inlet sources rotate-key default`'].filter(Boolean).join(' and ');
    logger.error({ secretsFile: file, code }, `first start: could not write ${made} to ${file} (${code}), and ${secrets.length > 1 ? 'they are' : 'it is'} shown nowhere else; make new ${secrets.length > 1 ? 'ones' : 'one'} with ${remake}`);
  }
}

function firstStartFileText(facts: StartFacts): string {
  return [
    `# Inlet's first start, ${new Date().toISOString()}: its stdout was not a terminal, so what it would have shown there is here,`,
    '# and only here (the store keeps one-way images of the secrets, never the secrets themselves).',
    '# Keep the admin token and the write key somewhere safe (a secret manager), then delete this file.',
    '# Lost them? `inlet admin token --rotate` and `inlet sources rotate-key default` make new ones.',
    serveBanner(facts),
    '',
  ].join('\n');
}

const PARTIAL = /^\.first-start-secrets\.[0-9a-f]+\.tmp$/;

/** A start that died between writing the secrets and moving them into place left them under a temporary name: gone at the next start. */
function removePartials(dir: string): void {
  try {
    for (const name of readdirSync(dir)) if (PARTIAL.test(name)) rmSync(join(dir, name), { force: true });
  } catch {
    // (no data directory to look in: nothing left over)
  }
}

/** Created 0600 under another name and moved into place: the secrets are never readable by others, not even half-written. */
function writePrivately(file: string, text: string): void {
  const dir = resolve(file, '..');
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A random name: in a container the pid is the same on every start, and a crash's leftover would block the next.
  const partial = join(dir, `.first-start-secrets.${randomBytes(6).toString('hex')}.tmp`);
  try {
    writeFileSync(partial, text, { mode: 0o600, flag: 'wx' });
    renameSync(partial, file);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}
