// Starts, stops and inspects a local Kafka cluster whose state lives in one directory:
// DIR/cluster.json (bootstrap address, and per node its id, ports, pid, log file) and
// DIR/node-<id>/ (server.properties, data, node.log). Nodes are ended by the pid recorded here,
// after checking that pid still runs this node's config, never by process name.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { ensureJars, KAFKA_VERSION } from './jars.js';
import { probeBrokerIds } from './metadata-probe.js';
import { layout, nodeProperties } from './node-config.js';
import { securitySetup } from './security.js';

/** Where nodes listen unless `--host` says otherwise (recorded per node in cluster.json). */
export const DEFAULT_HOST = '127.0.0.1';
const hostOf = (node) => node.host ?? DEFAULT_HOST;
const LOG4J = join(import.meta.dirname, 'log4j2.xml');
const JVM_OPTS = ['-Xmx512m', '-Xms128m', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-Djava.awt.headless=true',
  `-Dlog4j2.configurationFile=${LOG4J}`, '-Dlog4j2.shutdownHookEnabled=false'];

const log = (m) => process.stderr.write(`${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const stateFile = (dir) => join(dir, 'cluster.json');

export function readState(dir) {
  const file = stateFile(dir);
  return existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : null;
}

function writeState(dir, state) {
  const tmp = `${stateFile(dir)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(state, null, 2) + '\n');
  renameSync(tmp, stateFile(dir));
}

/** True when the recorded pid still runs this node (a reused pid or a zombie does not count). */
export function isAlive(node) {
  if (!node.pid) return false;
  try {
    process.kill(node.pid, 0);
  } catch (error) {
    if (error.code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${node.pid}/cmdline`, 'utf8').includes(node.config);
  } catch {
    return !existsSync('/proc/self'); // no procfs: trust kill(0)
  }
}

function portFree(port, host) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

async function assertPortsFree(nodes, security) {
  for (const node of nodes) {
    const secured = [security?.saslPort, security?.sslPort, security?.saslSslPort].filter((p) => p !== undefined).map((p) => p + node.id - 1);
    for (const port of [node.port, node.controllerPort, ...secured]) {
      if (!(await portFree(port, hostOf(node)))) throw new Error(`port ${port} on ${hostOf(node)} is already in use (another broker? see \`scripts/kafka status\`)`);
    }
  }
}

/** A Kafka cluster id: 16 random bytes, URL-safe base64 without padding, not starting with '-'. */
function clusterId() {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function run(cmd, args, what) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${what} failed (exit ${code}):\n${output}`))));
  });
}

function tail(file, lines = 30) {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function launch(libs, node) {
  const out = openSync(node.log, 'a');
  const child = spawn('java', [...JVM_OPTS, '-cp', join(libs, '*'), 'kafka.Kafka', node.config], {
    detached: true, // its own process group: a Ctrl-C meant for the caller does not reach it
    stdio: ['ignore', out, out],
  });
  closeSync(out);
  child.unref();
  return child.pid;
}

/** Waits until every node in `waitFor` answers a metadata request listing all of `expectIds`. */
async function waitUntilServing(state, waitFor, expectIds, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(waitFor.map((n) => n.id));
  while (pending.size > 0) {
    for (const node of state.nodes.filter((n) => pending.has(n.id))) {
      if (!isAlive(node)) throw new Error(`node ${node.id} exited while starting; end of ${node.log}:\n${tail(node.log)}`);
      const ids = await probeBrokerIds(hostOf(node), node.port);
      if (ids && expectIds.every((id) => ids.includes(id))) pending.delete(node.id);
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      const which = [...pending].join(', ');
      throw new Error(`node(s) ${which} did not serve metadata within ${timeoutMs} ms; see ${state.nodes.find((n) => pending.has(n.id)).log}`);
    }
    await sleep(250);
  }
}

const bootstrap = (state) => state.nodes.map((n) => `${hostOf(n)}:${n.port}`).join(',');

/**
 * Formats fresh storage in `dir` and starts every node; returns the bootstrap address (PLAINTEXT).
 * `saslPort`, `sslPort`, `saslSslPort`: secured listeners too (security.js), recorded in cluster.json's `security`.
 */
export async function startCluster({ dir, port, controllerPort, brokers, host = DEFAULT_HOST, timeoutMs, saslPort, sslPort, saslSslPort }) {
  dir = resolve(dir);
  const existing = readState(dir);
  if (existing) {
    const running = existing.nodes.filter(isAlive);
    if (running.length === existing.nodes.length && existing.nodes.length === brokers && existing.nodes[0].port === port && hostOf(existing.nodes[0]) === host) {
      await waitUntilServing(existing, existing.nodes, [], timeoutMs);
      log(`already running in ${dir}`);
      return existing.bootstrap;
    }
    if (running.length > 0) {
      throw new Error(`a different or partly running cluster is in ${dir} (nodes ${running.map((n) => n.id).join(', ')} up); stop it first, or restart one node with --node`);
    }
  } else if (existsSync(dir) && readdirSync(dir).some((f) => f.startsWith('node-'))) {
    throw new Error(`${dir} holds node-* folders but no cluster.json; refusing to reuse it`);
  }
  // Throwaway test data: a fresh start always formats new storage.
  if (existsSync(dir)) {
    for (const f of readdirSync(dir)) if (f.startsWith('node-') || f === 'cluster.json' || f === 'tls') rmSync(join(dir, f), { recursive: true, force: true });
  }

  const nodes = layout({ port, controllerPort, brokers, host });
  await assertPortsFree(nodes, { saslPort, sslPort, saslSslPort });
  const libs = ensureJars();
  const id = clusterId();
  const security = saslPort === undefined && sslPort === undefined && saslSslPort === undefined ? undefined : securitySetup({ dir, host, saslPort, sslPort, saslSslPort });
  const state = { kafkaVersion: KAFKA_VERSION, clusterId: id, dir, bootstrap: '', nodes: [], ...(security ? { security: security.state } : {}) };
  for (const node of nodes) {
    const nodeDir = join(dir, `node-${node.id}`);
    mkdirSync(join(nodeDir, 'data'), { recursive: true });
    const config = join(nodeDir, 'server.properties');
    writeFileSync(config, nodeProperties({ node, nodes, dataDir: join(nodeDir, 'data'), security }));
    state.nodes.push({ ...node, pid: null, log: join(nodeDir, 'node.log'), config });
  }
  state.bootstrap = bootstrap(state);
  writeState(dir, state);

  await Promise.all(state.nodes.map((node) => run('java', [...JVM_OPTS, '-cp', join(libs, '*'),
    'kafka.tools.StorageTool', 'format', '-t', id, '-c', node.config, ...(security?.formatArgs ?? [])], `formatting node ${node.id}`)));

  for (const node of state.nodes) node.pid = launch(libs, node);
  writeState(dir, state);
  try {
    await waitUntilServing(state, state.nodes, state.nodes.map((n) => n.id), timeoutMs);
  } catch (error) {
    await stopNodes(dir, { kill: true });
    throw error;
  }
  return state.bootstrap;
}

/** Restarts one stopped node of an existing cluster, keeping its data. */
export async function startNode({ dir, nodeId, timeoutMs }) {
  dir = resolve(dir);
  const state = readState(dir);
  if (!state) throw new Error(`no cluster in ${dir} (no cluster.json); start one without --node first`);
  const node = state.nodes.find((n) => n.id === nodeId);
  if (!node) throw new Error(`no node ${nodeId} in ${dir} (nodes: ${state.nodes.map((n) => n.id).join(', ')})`);
  if (isAlive(node)) {
    log(`node ${nodeId} is already running (pid ${node.pid})`);
  } else {
    await assertPortsFree([node]);
    node.pid = launch(ensureJars(), node);
    writeState(dir, state);
  }
  await waitUntilServing(state, [node], [node.id], timeoutMs);
  return state.bootstrap;
}

async function waitForExit(node, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (isAlive(node)) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Ends the nodes (all, or `nodeId`) by their recorded pids: SIGTERM for a clean shutdown, or
 * SIGKILL with `kill`. A node that ignores SIGTERM for `graceMs` is killed.
 */
export async function stopNodes(dir, { nodeId, kill = false, graceMs = 20_000 } = {}) {
  dir = resolve(dir);
  const state = readState(dir);
  if (!state) {
    log(`no cluster in ${dir}; nothing to stop`);
    return [];
  }
  const targets = state.nodes.filter((n) => nodeId === undefined || n.id === nodeId);
  if (targets.length === 0) throw new Error(`no node ${nodeId} in ${dir}`);
  const stopped = [];
  await Promise.all(targets.map(async (node) => {
    if (!isAlive(node)) return;
    process.kill(node.pid, kill ? 'SIGKILL' : 'SIGTERM');
    if (!(await waitForExit(node, graceMs))) {
      log(`node ${node.id} (pid ${node.pid}) did not stop within ${graceMs} ms; sending SIGKILL`);
      process.kill(node.pid, 'SIGKILL');
      await waitForExit(node, 5000);
    }
    stopped.push(node.id);
  }));
  for (const node of targets) if (!isAlive(node)) node.pid = null;
  writeState(dir, state);
  return stopped.sort();
}

/** One line per node: id, port, pid and whether it runs and answers metadata requests. */
export async function status(dir) {
  dir = resolve(dir);
  const state = readState(dir);
  if (!state) return { state: null, lines: [`no cluster in ${dir}`], up: false };
  const lines = [];
  let up = true;
  for (const node of state.nodes) {
    const alive = isAlive(node);
    const ids = alive ? await probeBrokerIds(hostOf(node), node.port) : null;
    const what = !alive ? 'stopped' : ids ? 'serving' : 'running, not answering';
    if (what !== 'serving') up = false;
    lines.push(`node ${node.id}  port ${node.port}  controller ${node.controllerPort}  pid ${alive ? node.pid : '-'}  ${what}  log ${node.log}`);
  }
  lines.push(`bootstrap ${state.bootstrap}`);
  return { state, lines, up };
}
