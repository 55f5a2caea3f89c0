// `inlet admin token --rotate`: a new admin token, printed once; the old one stops working.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { AdminTokens } from '../admin/token.ts';
import { openSourceStore } from '../server.ts';
import { configFromFlags, STORE_FLAGS } from './common.ts';

export const ADMIN_HELP = `Usage: inlet admin token --rotate

The admin token opens the admin API (Authorization: Bearer <token>). The server makes one on its
first start and prints it once; only a one-way image of it is stored, so it cannot be shown again. --rotate
makes a new one and prints it; running servers stop accepting the old one within 5 seconds.
Uses DATABASE_URL when set (the token is shared with the sources), the embedded store otherwise.`;

export async function adminCommand(argv: string[]): Promise<number> {
  const [what, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: { ...STORE_FLAGS, rotate: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help || what === '--help' || what === '-h') { console.log(ADMIN_HELP); return 0; }
  if (what !== 'token') { console.error(ADMIN_HELP); return 2; }
  if (!values.rotate) {
    console.error('inlet admin token: only a one-way image of the admin token is stored, so it cannot be shown again; make a new one with --rotate');
    return 2;
  }
  const store = await openSourceStore(configFromFlags(values), pino({ level: 'warn' }));
  try {
    const token = await new AdminTokens(store).rotate();
    console.log(`admin token: ${token}\nThe old token stops working on running servers within 5 seconds. This one is not shown again.`);
    return 0;
  } finally {
    await store.close();
  }
}
