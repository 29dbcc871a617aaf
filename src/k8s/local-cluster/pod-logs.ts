import { badRequest, notFound } from './api-errors.js';
import type { KubeObject } from './kube-object.js';
import { pipelineRuns, pods } from './resources.js';
import { stepLog, type LogExtent } from './simulated-pipeline.js';
import type { ObjectStore } from './store.js';

interface ContainerStatus {
  name: string;
  state: { waiting?: { reason: string }; running?: unknown; terminated?: { exitCode: number; reason: string } };
}

/**
 * `GET .../pods/{pod}/log?container=...`: the simulated step's log, as much of it as the
 * container's state says has been written, with the kubelet's errors for the cases it refuses.
 */
export function readPodLog(store: ObjectStore, namespace: string, podName: string, container: string | null): string {
  const pod = store.get(pods.plural, namespace, podName);
  if (!pod) throw notFound(pods, podName);
  const names = ((pod.spec?.containers ?? []) as { name: string }[]).map((c) => c.name);
  if (container === null) {
    if (names.length !== 1) {
      throw badRequest(`a container name must be specified for pod ${podName}, choose one of: [${names.join(' ')}]`);
    }
    container = names[0] ?? '';
  }
  const statuses = (pod.status?.containerStatuses ?? []) as ContainerStatus[];
  const index = statuses.findIndex((status) => status.name === container);
  const status = statuses[index];
  if (!names.includes(container) || !status) throw badRequest(`container ${container} is not valid for pod ${podName}`);
  if (status.state.waiting) {
    throw badRequest(`container "${container}" in pod "${podName}" is waiting to start: ${status.state.waiting.reason}`);
  }
  const runName = pod.metadata.labels?.['tekton.dev/pipelineRun'];
  const run: KubeObject | undefined = runName ? store.get(pipelineRuns.plural, namespace, runName) : undefined;
  return stepLog(run, container.replace(/^step-/, ''), extentOf(statuses, index));
}

function extentOf(statuses: ContainerStatus[], index: number): LogExtent {
  const terminated = statuses[index]?.state.terminated;
  if (!terminated) return 'partial';
  if (terminated.exitCode === 0) return 'complete';
  if (terminated.reason !== 'Error') return 'partial';
  const earlierFailed = statuses.slice(0, index).some((s) => s.state.terminated?.reason === 'Error');
  return earlierFailed ? 'skipped' : 'failed';
}
