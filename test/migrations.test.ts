import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrateToLatest } from '../src/db/migrate.js';
import { createDatabase } from '../src/db/pool.js';
import { migrations } from '../migrations/index.js';
import { createTestDatabase } from './support/database.js';

let database: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => database?.drop());

it('runs each migration once when several replicas start at the same moment', async () => {
  const replicas = Array.from({ length: 4 }, () => createDatabase({ connectionString: database.url }));
  try {
    const results = await Promise.all(replicas.map(({ db }) => migrateToLatest(db)));
    // Exactly one replica ran the migrations; the others found nothing pending.
    const ran = results.flat();
    expect(ran.sort()).toEqual(Object.keys(migrations).sort());
    expect(results.filter((r) => r.length > 0)).toHaveLength(1);
  } finally {
    await Promise.all(replicas.map(({ db }) => db.destroy()));
  }
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  const { rows } = await client.query('select name from kysely_migration order by name');
  await client.end();
  expect(rows.map((r) => r.name)).toEqual(Object.keys(migrations).sort());
});

it('migration names are timestamps, so they sort in the order they were written', () => {
  for (const name of Object.keys(migrations)) expect(name).toMatch(/^\d{14}_[a-z0-9_]+$/);
});
