import { mkdtemp, rm, chmod } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/db/embedded.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A PostgreSQL server the suites may create databases on (DATABASE_URL, or an embedded one). */
    postgresUrl: string;
  }
}

let embedded: EmbeddedPostgres | null = null;
let dataDir: string | null = null;

export async function setup(project: TestProject): Promise<void> {
  if (process.env.DATABASE_URL) {
    project.provide('postgresUrl', process.env.DATABASE_URL);
    return;
  }
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-test-pg-'));
  await chmod(dataDir, 0o755);
  embedded = await startEmbeddedPostgres(dataDir);
  project.provide('postgresUrl', embedded.connectionString);
}

export async function teardown(): Promise<void> {
  await embedded?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
}
