import { Migrator, type Kysely } from 'kysely';
import { migrations } from '../../migrations/index.js';

/**
 * Runs every pending migration. Kysely's PostgreSQL adapter takes a transaction-level advisory
 * lock around the run, so replicas starting at once run each migration exactly once.
 */
export async function migrateToLatest(db: Kysely<any>): Promise<string[]> {
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
