import { randomBytes } from 'node:crypto';
import { buildPipelineRun } from '../../src/k8s/pipeline-run.js';
import { newDeploymentId } from '../../src/resolvers/tokens.js';
import { startChild } from '../lib/child.js';
import type { BenchEnvironment } from '../lib/env.js';
import { MB, ratio, round, runPool } from '../lib/stats.js';

export interface InformerScenario {
  pipelineRuns: number;
  createSeconds: number;
  watcher: { syncMs: number; appliedMs: number; heapAddedMB: number; rssAddedMB: number };
  baseline: { listMs: number; heapAddedMB: number; rssAddedMB: number; objects: number };
  syncRatio: number;
  heapRatio: number;
}

/** A finished run's status as Tekton writes it: conditions, times, child references. */
function succeededStatus(name: string) {
  const start = new Date(Date.now() - 120_000).toISOString();
  const end = new Date().toISOString();
  return {
    startTime: start,
    completionTime: end,
    conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded', message: 'Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0', lastTransitionTime: end }],
    childReferences: ['clone', 'build', 'deploy'].map((task) => ({
      apiVersion: 'tekton.dev/v1',
      kind: 'TaskRun',
      name: `${name}-${task}`,
      pipelineTaskName: task,
    })),
  };
}

/**
 * Scenario 6: N PipelineRuns with the app's labels in one namespace (created and given a
 * finished status through the API), then the app's PipelineRunWatcher starting against them in
 * a fresh process, vs one plain list of the same objects in another fresh process.
 */
export async function informerStartup(env: BenchEnvironment, count: number): Promise<InformerScenario> {
  const namespace = `bench-informer-${randomBytes(3).toString('hex')}`;
  const organizationId = `org_${randomBytes(8).toString('hex')}`;
  const serviceId = `svc_${randomBytes(8).toString('hex')}`;
  const started = performance.now();
  const outcome = await runPool(count, 32, async () => {
    const name = newDeploymentId();
    const manifest = buildPipelineRun({
      deploymentId: name,
      organizationId,
      serviceId,
      serviceSlug: 'web',
      repoUrl: 'https://github.com/acme/web.git',
      branch: 'main',
      clearCache: false,
      pipelineName: 'stackblaze-build',
      namespace,
      imageRegistry: 'registry.stackblaze.local',
    });
    const created = await env.createPipelineRun(namespace, manifest);
    if (created !== 201 && created !== 200) throw new Error(`create answered ${created}`);
    const patched = await env.patchStatus(namespace, name, succeededStatus(name));
    if (patched !== 200) throw new Error(`status patch answered ${patched}`);
  }, 600_000);
  if (outcome.done !== count) throw new Error(`created ${outcome.done} of ${count} PipelineRuns`);
  const createSeconds = round((performance.now() - started) / 1000);

  const databaseUrl = await env.createDatabase('informer');
  const common = { KUBECONFIG: env.kubeconfigPath, BUILD_NAMESPACE: namespace, DATABASE_URL: databaseUrl };
  const measure = async (mode: 'watcher' | 'list') => {
    const child = await startChild('informer-process.ts', { env: { ...common, INFORMER_MODE: mode } });
    try {
      return await child.call<Record<string, number>>('measure', undefined, 300_000);
    } finally {
      await child.stop();
    }
  };
  const w = await measure('watcher');
  const b = await measure('list');
  if (b.objects !== count) throw new Error(`the list returned ${b.objects} of ${count} objects`);
  return {
    pipelineRuns: count,
    createSeconds,
    watcher: { syncMs: round(w.syncMs!), appliedMs: round(w.appliedMs!), heapAddedMB: round(w.heapAddedBytes! / MB), rssAddedMB: round(w.rssAddedBytes! / MB) },
    baseline: { listMs: round(b.listMs!), heapAddedMB: round(b.heapAddedBytes! / MB), rssAddedMB: round(b.rssAddedBytes! / MB), objects: b.objects! },
    syncRatio: ratio(w.syncMs!, b.listMs!),
    heapRatio: ratio(w.heapAddedBytes!, b.heapAddedBytes!),
  };
}
