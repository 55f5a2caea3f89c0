// The paragraphs RELIABILITY.md opens with: how to read the numbers, and what is real.
export const PREFACE: string[] = [
  '**Columns.** *acked*: events the server answered 200 for; *stored*: of the events the drill sent, how many '
    + 'distinct ones the store (or topic) holds — more than acked when a request was written but its answer '
    + 'was lost to the fault; *lost*: acknowledged events missing; *duplicates*: extra copies of an event '
    + '(allowed on `raw-events`, where the processor removes them; not after it). *statuses*: every answer the '
    + 'drill\'s clients got (or the error when none came). *recovery*: what each drill times, said below. '
    + '*peak RSS*: the highest resident memory of the server process(es) under test, sampled every 200 ms.',
  '**The drill load** is four clients posting `/v1/batch` requests of 20 events with their own messageIds, one '
    + 'request at a time each, at most 250 requests (5,000 events) per second in all; a *canary* is one client '
    + 'at 20 requests of 10 events per second. Servers run as `inlet serve` child processes '
    + '(`packages/server/bin/inlet.js`) with rate limits raised out of the way.',
  '**What is real and what is emulated.** Real: the processes (server, processor, Kafka brokers, redis-server) '
    + 'and their deaths (SIGKILL, SIGTERM, SIGSTOP); a full disk (a tmpfs of the drill\'s own: the kernel\'s '
    + 'ENOSPC); the network faults between the server and a broker in a network namespace of its own (a veth '
    + 'link taken down, flapped, or limited by a tbf token bucket). Emulated: a PostgreSQL outage is a TCP '
    + 'relay in front of the shared PostgreSQL that refuses or goes silent (the server\'s driver, pool and '
    + 'timeouts are real; the database keeps running for everyone else). Not available: added latency and '
    + 'random packet loss — this kernel has no `sch_netem` and no tc actions.',
  '**Timing.** The machine is shared with other work (2 cores); time to recover, latencies and RSS are orders '
    + 'of magnitude, not benchmarks. Verdicts on durability (lost, duplicates, false 200s) do not depend on timing.',
  '**Findings.** A check marked *(hardening: …)* measures a finding of issue 16 that the hardening work has '
    + 'yet to fix; it fails its drill, with its measurement, until it holds. The same checks run in `npm test` '
    + '(chaos/test) as `todo` tests: they run and report but do not fail the suite until the hardening turns them on.',
];
