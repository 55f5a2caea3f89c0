// A network namespace joined to this one by a veth pair (root only): whatever runs inside (a
// broker) is reached over a real link that the drill can take down (a partition: packets vanish,
// nothing is refused), flap, or starve (tbf). The kernel here has no sch_netem, so latency and
// random loss are not on offer. Removed after the drill, also when it fails or is interrupted.
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import type { DrillContext } from './drill.ts';

const PREFIX = 'inletchaos';

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function inNamespace(ns: string, command: string[]): void {
  execFileSync('ip', ['netns', 'exec', ns, ...command], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Namespaces an earlier run left behind when it was killed outright (its pid is in the name). */
function removeStale(): void {
  for (const line of ip(['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0];
    const pid = Number(new RegExp(`^${PREFIX}-(\\d+)-`).exec(name)?.[1]);
    if (!pid) continue;
    try {
      process.kill(pid, 0);
    } catch {
      ip(['netns', 'del', name]);
    }
  }
}

export interface NamespaceLink {
  /** the namespace's name, for `ip netns exec` */
  ns: string;
  /** this side's address, and the namespace's */
  hostAddress: string;
  nsAddress: string;
  /** take the namespace's end of the link down: the host's packets to it vanish */
  down(): void;
  up(): void;
  /** a token bucket on both ends: at most `kbit` kbit/s each way */
  limit(kbit: number): void;
  unlimit(): void;
}

let created = 0;

export function namespaceLink(ctx: DrillContext): NamespaceLink {
  removeStale();
  const n = created++;
  const ns = `${PREFIX}-${process.pid}-${n}`;
  // Interface names are at most 15 characters.
  const tag = `${(process.pid % 100_000).toString(36)}${n}`;
  const hostIf = `ich${tag}`;
  const nsIf = `icn${tag}`;
  const used = ip(['-o', '-4', 'addr']);
  let subnet = '';
  for (let tries = 0; tries < 50 && (!subnet || used.includes(`${subnet}.`)); tries++) subnet = `10.${randomInt(200, 250)}.${randomInt(0, 250)}`;
  const hostAddress = `${subnet}.1`;
  const nsAddress = `${subnet}.2`;

  ip(['netns', 'add', ns]);
  // Deleting the namespace deletes its end of the pair, and with it the host's end.
  ctx.defer(() => ip(['netns', 'del', ns]));
  ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
  ip(['link', 'set', nsIf, 'netns', ns]);
  ip(['addr', 'add', `${hostAddress}/30`, 'dev', hostIf]);
  ip(['link', 'set', hostIf, 'up']);
  inNamespace(ns, ['ip', 'addr', 'add', `${nsAddress}/30`, 'dev', nsIf]);
  inNamespace(ns, ['ip', 'link', 'set', nsIf, 'up']);
  inNamespace(ns, ['ip', 'link', 'set', 'lo', 'up']);

  const tbf = (kbit: number) => ['rate', `${kbit}kbit`, 'burst', '16kb', 'latency', '500ms'];
  return {
    ns, hostAddress, nsAddress,
    down: () => inNamespace(ns, ['ip', 'link', 'set', nsIf, 'down']),
    up: () => inNamespace(ns, ['ip', 'link', 'set', nsIf, 'up']),
    limit: (kbit) => {
      execFileSync('tc', ['qdisc', 'replace', 'dev', hostIf, 'root', 'tbf', ...tbf(kbit)]);
      inNamespace(ns, ['tc', 'qdisc', 'replace', 'dev', nsIf, 'root', 'tbf', ...tbf(kbit)]);
    },
    unlimit: () => {
      execFileSync('tc', ['qdisc', 'del', 'dev', hostIf, 'root']);
      inNamespace(ns, ['tc', 'qdisc', 'del', 'dev', nsIf, 'root']);
    },
  };
}
