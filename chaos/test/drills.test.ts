// The short version of every chaos drill (what `npm run chaos -- --quick` runs), with each of its
// checks as a test. A check that the hardening work of issue 16 has yet to make hold carries a
// `hardening` reason in its drill and is marked todo here: it still runs and reports, and fails
// nothing. When the hardening lands, delete that reason from the drill and the test counts.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { DRILLS } from '../drills/index.ts';
import { runDrill } from '../lib/drill.ts';
import { sharedKafka } from '../lib/kafka.ts';
import { missingNeeds } from '../lib/needs.ts';
import { consoleBlock } from '../lib/report.ts';

const kafka = sharedKafka();
after(() => kafka.stop());

for (const drill of DRILLS) {
  const missing = await missingNeeds(drill.needs);
  test(`chaos drill ${drill.name}: ${drill.title}`, { skip: missing || false, timeout: 300_000 }, async (t) => {
    const result = await runDrill(drill, { quick: true, kafka: () => kafka.get(), log: (m) => t.diagnostic(m) });
    for (const line of consoleBlock(result).split('\n')) t.diagnostic(line);
    assert.equal(result.error, undefined, `the drill finished: ${result.error}`);
    assert.ok(result.checks.length > 0, 'the drill checked something');
    for (const check of result.checks) {
      await t.test(check.name, check.hardening ? { todo: `hardening: ${check.hardening}` } : {}, () => {
        assert.ok(check.ok, check.detail);
      });
    }
  });
}
