import type { ScenarioResult } from './report.js';
import { killAppScenario } from './scenarios/kill-app.js';
import { kubernetesOutageScenario } from './scenarios/kubernetes-outage.js';
import { postgresRestartScenario } from './scenarios/postgres-restart.js';
import { sigtermScenario } from './scenarios/sigterm.js';
import type { ChaosRun } from './stack.js';

/** The scenarios at full size, in the order `npm run chaos` runs them; CI runs some of them as they are here. */
export const SCENARIOS: Record<string, (run: ChaosRun, print?: (line: string) => void) => Promise<ScenarioResult>> = {
  'kill-9': (run, print) => killAppScenario(run, { calls: 2_000, print }),
  'postgres-restart': (run, print) => postgresRestartScenario(run, { outageMs: 10_000, print }),
  'kubernetes-outage': (run, print) => kubernetesOutageScenario(run, { outageMs: 30_000, print }),
  sigterm: (run, print) => sigtermScenario(run, { print }),
};
