import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql ships both CommonJS and ESM builds; Node loads the CommonJS one for dependencies
    // (Pothos, yoga), so test files must too, or schema objects come from two module realms.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/global-setup.ts'],
    // Suites start real servers (PostgreSQL, the local cluster, the app); give them room.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
