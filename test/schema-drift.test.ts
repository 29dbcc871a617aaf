import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { printCurrentSchema, SCHEMA_FILE } from '../codegen.js';

it('schema.graphql is what the Pothos builder prints (run `npm run codegen` after a schema change)', () => {
  expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(printCurrentSchema());
});
