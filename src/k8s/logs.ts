import { ApiException, type V1Pod } from '@kubernetes/client-node';
import type { PipelineRunClient } from './kube-client.js';

/**
 * A PipelineRun's build log as one string: its TaskRun pods in pipeline order (the order of the
 * run's childReferences, then start time), each pod's step containers in spec order, every line
 * prefixed `[task/step] `. Null when no pod exists yet.
 */
export async function readBuildLogs(client: PipelineRunClient, pipelineRunName: string): Promise<string | null> {
  const [run, pods] = await Promise.all([client.get(pipelineRunName), client.listPods(pipelineRunName)]);
  if (pods.length === 0) return null;
  const taskOrder = (run?.status?.childReferences ?? []).map((c) => c.pipelineTaskName);
  const position = (pod: V1Pod) => {
    const index = taskOrder.indexOf(pod.metadata?.labels?.['tekton.dev/pipelineTask']);
    return index === -1 ? taskOrder.length : index;
  };
  pods.sort((a, b) => position(a) - position(b) || byStartOrder(a, b));
  const parts: string[] = [];
  for (const pod of pods) {
    const task = pod.metadata?.labels?.['tekton.dev/pipelineTask'] ?? pod.metadata?.name ?? 'task';
    const steps = (pod.spec?.containers ?? []).filter((c) => c.name.startsWith('step-'));
    const logs = await Promise.all(steps.map((c) => readStepLog(client, pod.metadata!.name!, c.name)));
    steps.forEach((container, i) => {
      const prefix = `[${task}/${container.name.slice('step-'.length)}] `;
      const text = logs[i] ?? '';
      for (const line of text.split('\n')) {
        if (line !== '') parts.push(prefix + line);
      }
    });
  }
  return parts.join('\n');
}

/**
 * A step that has not started has no log yet: the API server answers 400 ("container ... is
 * waiting to start: PodInitializing") until it runs, and 404 once its pod is gone (pruned between
 * the list and the read). Both read as an empty log; anything else is a real failure.
 */
async function readStepLog(client: PipelineRunClient, podName: string, container: string): Promise<string> {
  try {
    return await client.readLog(podName, container);
  } catch (error) {
    if (error instanceof ApiException && (error.code === 400 || error.code === 404)) return '';
    throw error;
  }
}

function startTime(pod: V1Pod): number {
  const t = pod.status?.startTime ?? pod.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : Number.MAX_SAFE_INTEGER;
}

function byStartOrder(a: V1Pod, b: V1Pod): number {
  return startTime(a) - startTime(b) || (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? '');
}
