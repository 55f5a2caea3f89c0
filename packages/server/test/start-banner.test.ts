// What `inlet serve` says once it listens when its stdout is not a terminal: when the first start's
// file cannot be written, the log says so and how to make new secrets, and still holds none; a
// crashed first start's temporary file is removed. (The terminal's banner and the file that can be
// written are tested through the command, in cli.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configWith } from '../src/config.ts';
import { announceStart, firstStartSecretsFile } from '../src/start-banner.ts';

function recordingLogger() {
  const lines: { level: string; fields: unknown; msg: unknown }[] = [];
  const at = (level: string) => (fields: unknown, msg?: unknown) => { lines.push({ level, fields, msg }); };
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } as never };
}

test('a first-start file that cannot be written is an error in the log naming it and what makes new secrets; no secret is logged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'inlet-banner-'));
  try {
    const notADirectory = join(dir, 'a-file');
    writeFileSync(notADirectory, '');
    const dataDir = join(notADirectory, 'data');
    const facts = { config: configWith({ dataDir }), url: 'http://127.0.0.1:8080', adminUrl: 'http://127.0.0.1:8081', adminToken: 'inlet_at_Tq8vXk2', writeKey: 'wk_Zr4pLm9' };
    const { lines, logger } = recordingLogger();
    announceStart(facts, { isTerminal: false, logger });
    const error = lines.find((l) => l.level === 'error');
    assert.ok(error, JSON.stringify(lines));
    assert.match(String(error.msg), /could not write the admin token and the write key of the "default" source to .*first-start-secrets\.txt \(ENOTDIR\).*`inlet admin token --rotate` and `inlet sources rotate-key default`/);
    assert.ok(lines.some((l) => String(l.msg).startsWith('Inlet is listening on http://127.0.0.1:8080')), 'the server still says it listens');
    assert.ok(!/Tq8vXk2|Zr4pLm9/.test(JSON.stringify(lines)), 'no secret in the log');
    assert.equal(existsSync(firstStartSecretsFile(dataDir)), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a start removes the secrets a crashed first start left under a temporary name, and writes its own file whole', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'inlet-banner-partial-'));
  try {
    const leftover = join(dataDir, '.first-start-secrets.0a1b2c3d4e5f.tmp');
    writeFileSync(leftover, 'Admin token: inlet_at_Old', { mode: 0o600 });
    const unrelated = join(dataDir, '.first-start-secrets.notes');
    writeFileSync(unrelated, 'kept');
    const facts = { config: configWith({ dataDir }), url: 'http://127.0.0.1:8080', adminUrl: 'http://127.0.0.1:8081', adminToken: 'inlet_at_New', writeKey: 'wk_New' };
    announceStart(facts, { isTerminal: false, logger: recordingLogger().logger });
    assert.equal(existsSync(leftover), false, 'the leftover is gone');
    assert.equal(existsSync(unrelated), true, 'only what the start itself names that way');
    assert.match(readFileSync(firstStartSecretsFile(dataDir), 'utf8'), /inlet_at_New/);
    assert.deepEqual(readdirSync(dataDir).filter((n) => n.endsWith('.tmp')), []);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});
