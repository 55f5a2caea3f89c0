// Fetches the Apache Kafka broker's jars from Maven Central once, into a cache outside the repo.
// The download goes to a private temp folder that is renamed into place at the end, so two
// concurrent fetches cannot leave a half-filled cache behind.
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

export const KAFKA_VERSION = '4.1.1';
const POM = join(import.meta.dirname, 'pom.xml');
const DEPENDENCY_PLUGIN = 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1';

export function cacheDir() {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'inlet', `kafka-${KAFKA_VERSION}`);
}

/** The folder holding every jar the broker needs (for `java -cp 'folder/*'`). */
export function libsDir() {
  return join(cacheDir(), 'libs');
}

export function ensureJars({ log = (m) => process.stderr.write(`${m}\n`) } = {}) {
  const dir = cacheDir();
  if (existsSync(join(dir, 'libs'))) return libsDir();
  mkdirSync(join(dir, '..'), { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  log(`fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central into ${dir} (once)`);
  const result = spawnSync('mvn', [
    '-q', '-B', '-Dstyle.color=never', '-f', POM,
    `${DEPENDENCY_PLUGIN}:copy-dependencies`,
    `-DoutputDirectory=${join(tmp, 'libs')}`,
    '-DincludeScope=runtime',
  ], { stdio: ['ignore', 2, 2] }); // keep stdout for the command's own answer
  if (result.error) throw new Error(`cannot run mvn (is Maven installed?): ${result.error.message}`);
  if (result.status !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`mvn dependency:copy-dependencies failed (exit ${result.status})`);
  }
  try {
    renameSync(tmp, dir);
  } catch (error) {
    // Another fetch finished first; its copy is as good as ours.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(join(dir, 'libs'))) throw error;
  }
  return libsDir();
}
