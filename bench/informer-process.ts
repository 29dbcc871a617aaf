/**
 * Informer start-up, in a fresh process per measurement so memory figures start clean.
 *   INFORMER_MODE=watcher  the app's PipelineRunWatcher (with its DeploymentService on
 *                          DATABASE_URL): time from start() to whenSynced(), then until every
 *                          listed object has been applied to the database; heap and RSS added.
 *   INFORMER_MODE=list     the baseline: one plain list of the same objects with client-node's
 *                          CustomObjectsApi (same label selector); time, and the memory the
 *                          list holds.
 * Both warm up the client first with one small request to the cluster.
 */
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { migrateToLatest } from '../src/db/migrate.js';
import { createDatabase } from '../src/db/pool.js';
import { KubePipelineRunClient } from '../src/k8s/kube-client.js';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE, PIPELINE_RUN_GROUP, PIPELINE_RUN_PLURAL, PIPELINE_RUN_VERSION } from '../src/k8s/pipeline-run.js';
import { PipelineRunWatcher } from '../src/k8s/watcher.js';
import { createLogger } from '../src/logger.js';
import { DeploymentService } from '../src/resolvers/deployments.js';
import { serveParent, settledMemory } from './lib/child.js';

const namespace = process.env.BUILD_NAMESPACE!;
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(process.env.KUBECONFIG!);
const cleanups: Array<() => Promise<unknown>> = [];
const parent = serveParent({ measure }, async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
});
/** What the measurement keeps alive, so that its memory is still counted after GC. */
const retained: unknown[] = [];

async function measure(): Promise<Record<string, number>> {
  if (process.env.INFORMER_MODE === 'list') {
    const api = kubeConfig.makeApiClient(CustomObjectsApi);
    const target = { group: PIPELINE_RUN_GROUP, version: PIPELINE_RUN_VERSION, plural: PIPELINE_RUN_PLURAL };
    await api.listNamespacedCustomObject({ ...target, namespace: 'bench-warm-up' });
    const before = await settledMemory();
    const started = performance.now();
    const list = (await api.listNamespacedCustomObject({ ...target, namespace, labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` })) as { items: unknown[] };
    const listMs = performance.now() - started;
    retained.push(list);
    const after = await settledMemory();
    return { objects: list.items.length, listMs, heapAddedBytes: after.heapUsed - before.heapUsed, rssAddedBytes: after.rss - before.rss };
  }

  const { db } = createDatabase({ connectionString: process.env.DATABASE_URL! });
  cleanups.push(() => db.destroy());
  await migrateToLatest(db);
  const pipelineRuns = new KubePipelineRunClient({ kubeConfig, namespace });
  const deployments = new DeploymentService({ db, pipelineRuns });
  const watcher = new PipelineRunWatcher({ kubeConfig, namespace, db, deployments, pipelineRuns, log: createLogger({ level: 'warn' }) });
  cleanups.push(() => watcher.stop());
  await pipelineRuns.get('bench-warm-up');
  await db.selectFrom('deployments').select('id').limit(1).execute();
  const before = await settledMemory();
  const started = performance.now();
  watcher.start();
  await watcher.whenSynced();
  const syncMs = performance.now() - started;
  // Each listed object is then written through recordTransition, one statement each.
  const internals = watcher as unknown as { queues: Map<string, unknown>; draining: Set<Promise<void>> };
  const deadline = Date.now() + 120_000;
  while ((internals.queues.size > 0 || internals.draining.size > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  const appliedMs = performance.now() - started;
  retained.push(watcher);
  const after = await settledMemory();
  return { syncMs, appliedMs, heapAddedBytes: after.heapUsed - before.heapUsed, rssAddedBytes: after.rss - before.rss };
}

parent.ready({ pid: process.pid });
