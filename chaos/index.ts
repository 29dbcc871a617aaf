/**
 * `npm run chaos`: the fault suite. The app, the local cluster and each scenario's load run as
 * processes of their own; PostgreSQL is a server this process starts, stops and restarts.
 *
 *   npm run chaos                      every scenario, full size
 *   npm run chaos -- kill-9 sigterm    only those (kill-9, postgres-restart, kubernetes-outage, sigterm)
 *   CHAOS_KEEP=1 npm run chaos         keep the run directory (every process's log) even on success
 *
 * Prints each scenario's figures and PASS/FAIL, then, as the last line, one JSON object with all of
 * them. Exits 1 if any scenario failed.
 */
import { killAllChildren } from './processes.js';
import type { ScenarioResult } from './report.js';
import { startChaosRun, type ChaosRun } from './stack.js';
import { SCENARIOS } from './suite.js';

const selected = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = selected.filter((name) => !(name in SCENARIOS));
if (unknown.length > 0) {
  process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}\n`);
  process.exit(2);
}
const names = selected.length > 0 ? selected : Object.keys(SCENARIOS);

let run: ChaosRun | null = null;
const interrupted = (signal: NodeJS.Signals) => {
  process.stderr.write(`\n${signal}: stopping every process of the run\n`);
  killAllChildren();
  void (run?.close({ keep: true }) ?? Promise.resolve()).finally(() => process.exit(130));
};
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);

const startedAt = Date.now();
const results: ScenarioResult[] = [];
try {
  run = await startChaosRun();
  process.stdout.write(`chaos run in ${run.dir}: PostgreSQL on port ${run.postgres.port}; scenarios: ${names.join(', ')}\n`);
  for (const name of names) {
    process.stdout.write(`\n=== ${name} ===\n`);
    results.push(await SCENARIOS[name]!(run));
  }
} catch (error) {
  process.stderr.write(`the suite could not run: ${error instanceof Error ? error.stack : String(error)}\n`);
  results.push({ name: 'setup', pass: false, seconds: 0, figures: {}, failures: [String(error)] });
} finally {
  killAllChildren();
  const keep = Boolean(process.env.CHAOS_KEEP) || results.some((r) => !r.pass);
  await run?.close({ keep });
  if (keep && run) process.stdout.write(`\nlogs kept in ${run.dir}\n`);
}

const pass = results.every((r) => r.pass);
const seconds = Math.round((Date.now() - startedAt) / 1000);
process.stdout.write(`\n${results.map((r) => `${r.pass ? 'PASS' : 'FAIL'}  ${r.name} (${r.seconds} s)${r.pass ? '' : `: ${r.failures.join('; ')}`}`).join('\n')}\n`);
process.stdout.write(`${pass ? 'PASS' : 'FAIL'}: ${results.filter((r) => r.pass).length}/${results.length} scenarios in ${seconds} s\n`);
process.stdout.write(
  `${JSON.stringify({
    pass,
    seconds,
    scenarios: Object.fromEntries(results.map((r) => [r.name, { pass: r.pass, seconds: r.seconds, ...r.figures, ...(r.pass ? {} : { failures: r.failures }) }])),
  })}\n`,
);
process.exit(pass ? 0 : 1);
