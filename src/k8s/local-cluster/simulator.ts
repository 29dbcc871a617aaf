import { randomUUID } from 'node:crypto';
import { kubeTime, type KubeObject, type UnversionedObject } from './kube-object.js';
import { pipelineRuns, pods } from './resources.js';
import {
  chooseOutcome,
  failingTaskIndex,
  simulatedTasks,
  type SimulatedOutcome,
  type SimulatedTask,
} from './simulated-pipeline.js';
import type { ObjectStore } from './store.js';

interface Condition {
  type: 'Succeeded';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message?: string;
  lastTransitionTime: string;
}

interface ChildReference {
  apiVersion: 'tekton.dev/v1';
  kind: 'TaskRun';
  name: string;
  pipelineTaskName: string;
}

interface PipelineRunStatus {
  conditions?: Condition[];
  startTime?: string;
  completionTime?: string;
  childReferences?: ChildReference[];
  [key: string]: unknown;
}

type ContainerState =
  | { waiting: { reason: string } }
  | { running: { startedAt: string } }
  | { terminated: { exitCode: number; reason: string; startedAt: string; finishedAt: string } };

interface ContainerStatus {
  name: string;
  image: string;
  ready: boolean;
  restartCount: number;
  started: boolean;
  state: ContainerState;
}

const cancelSpecStatuses = ['Cancelled', 'CancelledRunFinally', 'StoppedRunFinally'];
const tekton = { apiVersion: 'tekton.dev/v1', managedBy: 'tekton-pipelines' } as const;

/**
 * A stand-in for the Tekton controller: moves each PipelineRun one step along Tekton's real
 * sequence every `stepMs`, writing through the store so watchers see ordinary MODIFIED events.
 * Level-triggered: each step is derived from the run's current status and its pods, so runs
 * resume after a restart and react to `spec.status` patches (cancel, pending) whenever they come.
 */
export class TektonSimulator {
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly stepMs: number,
  ) {}

  start(): void {
    this.unsubscribe = this.store.subscribe((event) => {
      if (event.resource !== pipelineRuns.plural) return;
      const { namespace, name } = event.object.metadata;
      if (event.type === 'DELETED') this.forget(namespace, name);
      else this.schedule(namespace, name);
    });
    for (const run of this.store.list(pipelineRuns.plural)) this.schedule(run.metadata.namespace, run.metadata.name);
  }

  stop(): void {
    this.unsubscribe?.();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** One pending step per run: events arriving meanwhile are seen by that step, which reads the latest state. */
  private schedule(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    if (this.timers.has(key)) return;
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.reconcile(namespace, name);
    }, this.stepMs);
    this.timers.set(key, timer);
  }

  private forget(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
  }

  private reconcile(namespace: string, name: string): void {
    const run = this.store.get(pipelineRuns.plural, namespace, name);
    if (!run) return;
    const status: PipelineRunStatus = { ...(run.status ?? {}) };
    const condition = succeededCondition(status);
    if (condition && condition.status !== 'Unknown') return;
    const now = kubeTime();
    const specStatus = typeof run.spec?.status === 'string' ? run.spec.status : undefined;
    const children = status.childReferences ?? [];

    if (specStatus && cancelSpecStatuses.includes(specStatus)) {
      const finallyReason = specStatus === 'StoppedRunFinally' ? 'StoppedRunningFinally' : 'CancelledRunningFinally';
      if (specStatus !== 'Cancelled' && status.startTime && condition?.reason !== finallyReason) {
        return this.writeStatus(run, { ...status, conditions: [unknown(finallyReason, runningMessage(children.length - 1, 0, 1), now)] });
      }
      this.finishCurrentPod(run, children, 'TaskRunCancelled', now);
      return this.writeStatus(run, {
        ...status,
        conditions: [finished('False', 'Cancelled', `PipelineRun "${name}" was cancelled`, now)],
        completionTime: now,
      });
    }
    if (specStatus === 'PipelineRunPending' && !status.startTime) {
      if (condition?.reason === 'PipelineRunPending') return;
      return this.writeStatus(run, { ...status, conditions: [unknown('PipelineRunPending', `PipelineRun "${name}" is pending`, now)] });
    }

    const chosen = chooseOutcome(run);
    if (!status.startTime) {
      if ('invalid' in chosen || chosen.outcome === 'validation-failed') {
        const detail = 'invalid' in chosen ? chosen.invalid : 'simulated validation failure';
        const message = `Pipeline ${namespace}/${pipelineName(run)} can't be Run; it has an invalid spec: ${detail}`;
        return this.writeStatus(run, {
          ...status,
          startTime: now,
          conditions: [finished('False', 'PipelineValidationFailed', message, now)],
          completionTime: now,
        });
      }
      return this.writeStatus(run, { ...status, startTime: now, conditions: [unknown('Started', undefined, now)] });
    }
    if (children.length === 0) return this.startTask(run, status, 0, now);
    this.advance(run, status, children, 'outcome' in chosen ? chosen.outcome : 'failed', now);
  }

  /** Finishes the running task as the outcome says, then starts the next one or completes the run. */
  private advance(
    run: KubeObject,
    status: PipelineRunStatus,
    children: ChildReference[],
    outcome: SimulatedOutcome,
    now: string,
  ): void {
    const index = children.length - 1;
    const failsHere = index === failingTaskIndex && (outcome === 'failed' || outcome === 'timeout');
    if (failsHere && outcome === 'timeout') {
      this.finishCurrentPod(run, children, 'TaskRunTimeout', now);
      const timeout = typeof run.spec?.timeouts === 'object' ? (run.spec.timeouts as { pipeline?: string }).pipeline : undefined;
      const message = `PipelineRun "${run.metadata.name}" failed to finish within "${timeout ?? '1h0m0s'}"`;
      return this.writeStatus(run, { ...status, conditions: [finished('False', 'PipelineRunTimeout', message, now)], completionTime: now });
    }
    const pod = this.finishCurrentPod(run, children, failsHere ? 'Error' : 'Completed', now);
    if (pod?.status?.phase === 'Failed') {
      const skipped = simulatedTasks.length - index - 1;
      const message = `Tasks Completed: ${index + 1} (Failed: 1, Cancelled 0), Skipped: ${skipped}`;
      return this.writeStatus(run, { ...status, conditions: [finished('False', 'Failed', message, now)], completionTime: now });
    }
    if (index + 1 < simulatedTasks.length) return this.startTask(run, status, index + 1, now);
    const message = `Tasks Completed: ${simulatedTasks.length} (Failed: 0, Cancelled 0), Skipped: 0`;
    this.writeStatus(run, { ...status, conditions: [finished('True', 'Succeeded', message, now)], completionTime: now });
  }

  /** Creates the task's pod (as Tekton's TaskRun would), then records the TaskRun in childReferences. */
  private startTask(run: KubeObject, status: PipelineRunStatus, index: number, now: string): void {
    const task = simulatedTasks[index];
    if (!task) return;
    const taskRunName = `${run.metadata.name}-${task.name}`;
    if (!this.store.get(pods.plural, run.metadata.namespace, `${taskRunName}-pod`)) {
      this.store.create(pods.plural, newPod(run, task, taskRunName, now));
    }
    const children = [
      ...(status.childReferences ?? []),
      { apiVersion: tekton.apiVersion, kind: 'TaskRun' as const, name: taskRunName, pipelineTaskName: task.name },
    ];
    this.writeStatus(run, {
      ...status,
      childReferences: children,
      conditions: [unknown('Running', runningMessage(index, 0, 0), now)],
    });
  }

  /**
   * Ends the running task's pod: `Completed` succeeds every step; `Error` fails the first step
   * (later ones are skipped); a cancel or timeout stops whatever was running. A pod already
   * finished (say, before a restart) is left as it was.
   */
  private finishCurrentPod(run: KubeObject, children: ChildReference[], reason: string, now: string): KubeObject | undefined {
    const current = children[children.length - 1];
    if (!current) return undefined;
    const pod = this.store.get(pods.plural, run.metadata.namespace, `${current.name}-pod`);
    if (!pod || pod.status?.phase !== 'Running') return pod;
    const statuses = (pod.status.containerStatuses ?? []) as ContainerStatus[];
    const containerStatuses = statuses.map((container): ContainerStatus => {
      const startedAt = 'running' in container.state ? container.state.running.startedAt : now;
      const exitCode = reason === 'Completed' ? 0 : 1;
      return { ...container, ready: false, started: false, state: { terminated: { exitCode, reason, startedAt, finishedAt: now } } };
    });
    const phase = reason === 'Completed' ? 'Succeeded' : 'Failed';
    return this.store.replace(pods.plural, { ...pod, status: { ...pod.status, phase, containerStatuses } });
  }

  private writeStatus(run: KubeObject, status: PipelineRunStatus): void {
    this.store.replace(pipelineRuns.plural, { ...run, status });
  }
}

function succeededCondition(status: PipelineRunStatus): Condition | undefined {
  return status.conditions?.find((condition) => condition.type === 'Succeeded');
}

function unknown(reason: string, message: string | undefined, now: string): Condition {
  return { type: 'Succeeded', status: 'Unknown', reason, ...(message ? { message } : {}), lastTransitionTime: now };
}

function finished(status: 'True' | 'False', reason: string, message: string, now: string): Condition {
  return { type: 'Succeeded', status, reason, message, lastTransitionTime: now };
}

/** Tekton's progress message while the task at `runningIndex` runs. */
function runningMessage(runningIndex: number, failed: number, cancelled: number): string {
  const completed = Math.max(0, runningIndex);
  const incomplete = simulatedTasks.length - completed;
  return `Tasks Completed: ${completed} (Failed: ${failed}, Cancelled ${cancelled}), Incomplete: ${incomplete}, Skipped: 0`;
}

function pipelineName(run: KubeObject): string {
  const ref = run.spec?.pipelineRef as { name?: string } | undefined;
  return ref?.name ?? run.metadata.name;
}

/** The pod Tekton would run for the TaskRun: one `step-` container per step, the first one running. */
function newPod(run: KubeObject, task: SimulatedTask, taskRunName: string, now: string): UnversionedObject {
  const { namespace, name, uid } = run.metadata;
  const labels: Record<string, string> = {
    'app.kubernetes.io/managed-by': tekton.managedBy,
    'tekton.dev/pipelineRun': name,
    'tekton.dev/pipelineTask': task.name,
    'tekton.dev/taskRun': taskRunName,
    'tekton.dev/memberOf': 'tasks',
  };
  const pipeline = run.spec?.pipelineRef as { name?: string } | undefined;
  if (pipeline?.name) labels['tekton.dev/pipeline'] = pipeline.name;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${taskRunName}-pod`,
      namespace,
      uid: randomUUID(),
      creationTimestamp: now,
      labels,
      // Tekton's pods belong to their TaskRun; with no TaskRun objects here they belong to the run,
      // which gives the same cascading delete.
      ownerReferences: [
        { apiVersion: tekton.apiVersion, kind: 'PipelineRun', name, uid: uid ?? '', controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      restartPolicy: 'Never',
      serviceAccountName: 'default',
      containers: task.steps.map((step) => ({ name: `step-${step.name}`, image: step.image })),
    },
    status: {
      phase: 'Running',
      startTime: now,
      containerStatuses: task.steps.map(
        (step, i): ContainerStatus => ({
          name: `step-${step.name}`,
          image: step.image,
          ready: i === 0,
          restartCount: 0,
          started: i === 0,
          state: i === 0 ? { running: { startedAt: now } } : { waiting: { reason: 'PodInitializing' } },
        }),
      ),
    },
  };
}
