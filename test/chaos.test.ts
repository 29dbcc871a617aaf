import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killAllChildren } from '../chaos/processes.js';
import type { ScenarioResult } from '../chaos/report.js';
import { killAppScenario } from '../chaos/scenarios/kill-app.js';
import { startChaosRun, type ChaosRun } from '../chaos/stack.js';
import { SCENARIOS } from '../chaos/suite.js';

/**
 * The fault scenarios of `npm run chaos` that fit in CI time: scenario 1 with 300 calls instead of
 * 2,000, scenarios 2 and 4 exactly as the suite runs them. Scenario 3 (a 30 s Kubernetes outage,
 * then a watch stall that only the 45 s watchdog ends) runs only there. The app, the local
 * cluster and the load are processes of their own; PostgreSQL is a server this file starts, stops
 * and restarts. Each scenario checks its own invariants; these tests also pin the key figures.
 */

let run: ChaosRun;
const logs = new Map<string, string[]>();
const printer = (name: string) => {
  const lines: string[] = [];
  logs.set(name, lines);
  return (line: string) => lines.push(line);
};
const explain = (name: string, result: ScenarioResult) => `${result.failures.join('\n')}\n--- ${name} ---\n${logs.get(name)?.join('\n')}`;

beforeAll(async () => {
  run = await startChaosRun();
});
afterAll(async () => {
  killAllChildren();
  await run?.close();
});

describe('chaos', () => {
  it('kill -9 of the app during 300 hook calls: every 202 is one row and one PipelineRun, nothing else exists unless its connection broke', async () => {
    const result = await killAppScenario(run, { calls: 300, print: printer('kill') });
    expect(result.failures, explain('kill', result)).toEqual([]);
    const f = result.figures as Record<string, number>;
    expect(f.accepted202! + f.inDoubt!).toBe(300);
    expect(f.acceptedBeforeKill).toBeGreaterThanOrEqual(100);
    expect(f.acceptedBeforeKill).toBeLessThan(300);
    expect(f.refusedRetries, 'calls were refused while the app was down').toBeGreaterThan(0);
    expect(f.lost202s).toBe(0);
    expect(f.duplicateRows).toBe(0);
    expect(f.rows).toBe(f.accepted202! + f.inDoubtCommitted!);
    expect(f.runs).toBe(f.rows);
  }, 120_000);

  it('PostgreSQL stopped and restarted under load: 503 with Retry-After within 5 s, then recovery without a restart', async () => {
    const result = await SCENARIOS['postgres-restart']!(run, printer('postgres'));
    expect(result.failures, explain('postgres', result)).toEqual([]);
    const f = result.figures as Record<string, number>;
    expect(f.callsWhileDown).toBeGreaterThan(0);
    expect(f.answered503).toBeGreaterThanOrEqual(f.callsWhileDown!);
    expect(f.outageMaxLatencyMs).toBeLessThanOrEqual(5_000);
    expect(f.recoveryMs).toBeLessThanOrEqual(5_000);
    expect(f.runs).toBe(f.rows);
    expect(f.wsSubscriberEvents).toBeGreaterThanOrEqual(f.rows! * 2);
    expect(f.sseSubscriberEvents).toBe(f.wsSubscriberEvents);
  }, 120_000);

  it('SIGTERM with calls and subscriptions in flight: the calls complete, subscribers are told, the process exits 0', async () => {
    const result = await SCENARIOS.sigterm!(run, printer('sigterm'));
    expect(result.failures, explain('sigterm', result)).toEqual([]);
    const f = result.figures as Record<string, number>;
    expect(f.exitCode).toBe(0);
    expect(f.exitMs).toBeLessThanOrEqual(15_000);
    expect(f.slowAccepted).toBe(f.slowInFlight);
    expect(f.wsClosed1001).toBe(f.wsConnections);
    expect(f.sseEnded).toBe(f.sseStreams);
  }, 90_000);
});
