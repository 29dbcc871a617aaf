import { writeFileSync } from 'node:fs';
import { lexicographicSortSchema, printSchema } from 'graphql';
import { buildSchema } from './src/schema/index.js';

/** The committed SDL; test/schema-drift.test.ts fails when it differs from what the builder prints. */
export const SCHEMA_FILE = new URL('./schema.graphql', import.meta.url);

export function printCurrentSchema(): string {
  return `${printSchema(lexicographicSortSchema(buildSchema()))}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(SCHEMA_FILE, printCurrentSchema());
  process.stdout.write(`wrote ${SCHEMA_FILE.pathname}\n`);
}
