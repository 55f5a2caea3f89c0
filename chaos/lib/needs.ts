// What a drill needs beyond Node, found the way the tests find services (testkit's need*): in CI a
// missing piece is an error, elsewhere a reason to skip.
import { needKafkaRuntime, needPostgres, needRedisServer, needRoot } from '@inlet/testkit';
import type { Need } from './drill.ts';

/** false when everything is there; otherwise the reasons, joined. */
export async function missingNeeds(needs: Need[]): Promise<string | false> {
  const reasons: string[] = [];
  for (const need of needs) {
    const found = need === 'kafka' ? await needKafkaRuntime()
      : need === 'postgres' ? await needPostgres()
        : need === 'redis-server' ? await needRedisServer()
          : await needRoot('tmpfs mounts and network namespaces');
    if (found.skip) reasons.push(found.skip);
  }
  return reasons.length ? reasons.join('; ') : false;
}
