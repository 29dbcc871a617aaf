import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';

// Return bigint counts as numbers and leave timestamptz as Date (pg's default).
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export interface CreateDatabaseProps {
  connectionString: string;
  maxConnections?: number;
  /** Fail a request quickly instead of queueing it for ever when PostgreSQL is unreachable. */
  connectionTimeoutMs?: number;
}

export function createDatabase(props: CreateDatabaseProps): { db: Kysely<Database>; pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: props.connectionString,
    max: props.maxConnections ?? 10,
    connectionTimeoutMillis: props.connectionTimeoutMs ?? 3_000,
    idleTimeoutMillis: 30_000,
    // A statement that runs longer than this is a bug or an outage; the client gets a 503, not a hang.
    statement_timeout: 10_000,
    query_timeout: 12_000,
  });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {});
  // Nor one that is lent out: the pool listens for errors only on idle clients, so a client held
  // by a transaction (the dispatcher's, across its Kubernetes calls) or between two statements
  // would emit an unhandled 'error' when the server goes away. Its query fails instead, and the
  // pool drops it when it is released, as it is no longer queryable.
  pool.on('connect', (client) => client.on('error', () => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, pool };
}
