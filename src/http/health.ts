import type { ServerResponse } from 'node:http';
import { sendJson } from './respond.js';

/** A named readiness condition: resolves true when that part of the app can serve. */
export type ReadinessCheck = { name: string; check: () => Promise<boolean> | boolean };

/** `/healthz`: the process answers. */
export function sendHealth(res: ServerResponse): void {
  sendJson(res, 200, { status: 'ok' });
}

/** `/readyz`: every check passes (database reachable, PipelineRun watch synced), else 503. */
export async function sendReadiness(res: ServerResponse, checks: ReadinessCheck[]): Promise<void> {
  const results: Record<string, 'ok' | 'failing'> = {};
  await Promise.all(
    checks.map(async ({ name, check }) => {
      let ok = false;
      try {
        ok = await Promise.race([Promise.resolve(check()), new Promise<boolean>((r) => setTimeout(r, 2_000, false).unref())]);
      } catch {
        ok = false;
      }
      results[name] = ok ? 'ok' : 'failing';
    }),
  );
  const ready = Object.values(results).every((r) => r === 'ok');
  sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks: results });
}
