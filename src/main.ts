import { startApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './logger.js';

const log = createLogger();

async function main(): Promise<void> {
  const config = loadConfig();
  const started = Date.now();
  const app = await startApp({ config, log });
  process.stdout.write(`StackBlaze control plane ready in ${Date.now() - started} ms\n`);
  process.stdout.write(`Live page: ${app.publicUrl}/\n`);
  process.stdout.write(`GraphQL: ${app.publicUrl}/graphql\n`);
  process.stdout.write(`Hooks:   ${app.publicUrl}/hooks/{serviceId}/{token}\n`);
  if (app.generatedAdminToken) {
    process.stdout.write(
      `Admin API token (shown once, store it now): ${app.generatedAdminToken}\n` +
        `  curl -H 'Authorization: Bearer ${app.generatedAdminToken}' -H 'content-type: application/json' \\\n` +
        `       -d '{"query":"{ viewer { organization { id name } } }"}' ${app.publicUrl}/graphql\n`,
    );
  }

  let signalled = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    log.info({ signal }, 'draining');
    app.stop().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((error) => {
  if (error instanceof ConfigError) process.stderr.write(`configuration error: ${error.message}\n`);
  else log.error({ err: error }, 'start-up failed');
  process.exit(1);
});
