// Every drill, in the order the suite runs them.
import type { Drill } from '../lib/drill.ts';
import { brokerDown } from './broker-down.ts';
import { diskFull } from './disk-full.ts';
import { exposure } from './exposure.ts';
import { failedFlood } from './failed-flood.ts';
import { invalidKeyBodies } from './invalid-key-bodies.ts';
import { keyFlood } from './key-flood.ts';
import { killEmbedded } from './kill-embedded.ts';
import { killKafka } from './kill-kafka.ts';
import { leaderKill } from './leader-kill.ts';
import { networkPartition } from './network-partition.ts';
import { numbers } from './numbers.ts';
import { postgresDown } from './postgres-down.ts';
import { processorKill } from './processor-kill.ts';
import { publicKeyFlood } from './public-key-flood.ts';
import { redisDown } from './redis-down.ts';
import { revocation } from './revocation.ts';
import { sigtermStuck } from './sigterm-stuck.ts';
import { slowBody } from './slow-body.ts';
import { stalledBodies } from './stalled-bodies.ts';
import { unknownKeys } from './unknown-keys.ts';

export const DRILLS: Drill[] = [
  killEmbedded,
  killKafka,
  processorKill,
  brokerDown,
  leaderKill,
  networkPartition,
  diskFull,
  failedFlood,
  redisDown,
  postgresDown,
  slowBody,
  stalledBodies,
  sigtermStuck,
  keyFlood,
  invalidKeyBodies,
  unknownKeys,
  publicKeyFlood,
  revocation,
  exposure,
  numbers,
];
