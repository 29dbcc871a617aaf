import { runCli } from './run.js';

/** Lets stdout and stderr drain (pipes can be asynchronous) before exiting with `code`. */
async function exit(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.write('', () => resolve()))));
  process.exit(code);
}

// Exiting explicitly: an abandoned keep-alive connection must not hold a CI step open.
await exit(await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }));
