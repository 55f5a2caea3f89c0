// The console tests serve the console as a production server does, from @inlet/console's dist/:
// this builds it from the current source first (well under a second).
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '../../..');

export async function buildConsole(): Promise<void> {
  await promisify(execFile)(process.execPath, [resolve(ROOT, 'scripts/build.js'), '@inlet/console'], { cwd: ROOT });
}
