// The PostgreSQL tests each put their tables in a schema of their own, so runs and files never
// meet; this drops those schemas, with all they hold, when a test is done.
import pg from 'pg';

export async function dropSchemas(connectionString: string | undefined, ...schemas: string[]): Promise<void> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
