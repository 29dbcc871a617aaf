import { afterEach, describe, expect, it } from 'vitest';
import {
  createRun,
  getRun,
  group,
  namespace,
  patchRun,
  pipelineRunManifest,
  plural,
  recordWatch,
  startTestCluster,
  succeededCondition,
  version,
  waitFor,
  type PipelineRunObject,
  type TestCluster,
} from './support/local-cluster-harness.js';

let t: TestCluster;
afterEach(async () => {
  await t.dispose();
});

/** Creates a run and collects the Succeeded condition (status/reason) of every version a watch shows, until it is final. */
async function runToEnd(body: object, name: string): Promise<{ transitions: string[]; final: PipelineRunObject }> {
  const watch = await recordWatch(t, `/apis/tekton.dev/v1/namespaces/${namespace}/pipelineruns`, {
    fieldSelector: `metadata.name=${name}`,
  });
  await createRun(t, body);
  const final = await waitFor(() => {
    const last = watch.events.at(-1)?.object;
    const condition = succeededCondition(last);
    return condition && condition.status !== 'Unknown' ? last : undefined;
  }, `${name} to finish`);
  watch.abort();
  const transitions: string[] = [];
  for (const { object } of watch.events) {
    const condition = succeededCondition(object);
    const label = condition ? `${condition.status}/${condition.reason}` : 'none';
    if (transitions.at(-1) !== label) transitions.push(label);
  }
  return { transitions, final };
}

interface Pod {
  metadata: { name: string; labels: Record<string, string>; ownerReferences: { kind: string; name: string }[] };
  spec: { containers: { name: string }[] };
  status: { phase: string };
}

async function podsOf(name: string): Promise<Pod[]> {
  const list = await t.core.listNamespacedPod({ namespace, labelSelector: `tekton.dev/pipelineRun=${name}` });
  return list.items as unknown as Pod[];
}

async function stepLog(pod: string, container: string): Promise<string> {
  return t.core.readNamespacedPodLog({ namespace, name: pod, container });
}

describe('Tekton simulator', () => {
  it('runs a PipelineRun to True/Succeeded with childReferences, pods and step logs', async () => {
    t = await startTestCluster({ tekton: 'simulate' });
    const { transitions, final } = await runToEnd(pipelineRunManifest('ok'), 'ok');
    expect(transitions).toEqual(['none', 'Unknown/Started', 'Unknown/Running', 'True/Succeeded']);
    expect(succeededCondition(final)).toEqual({
      type: 'Succeeded',
      status: 'True',
      reason: 'Succeeded',
      message: 'Tasks Completed: 3 (Failed: 0, Cancelled 0), Skipped: 0',
      lastTransitionTime: expect.stringMatching(/Z$/),
    });
    expect(final.status?.startTime).toMatch(/Z$/);
    expect(final.status?.completionTime).toMatch(/Z$/);
    expect(final.status?.childReferences).toEqual(
      ['clone', 'build', 'deploy'].map((task) => ({
        apiVersion: 'tekton.dev/v1',
        kind: 'TaskRun',
        name: `ok-${task}`,
        pipelineTaskName: task,
      })),
    );

    const pods = await podsOf('ok');
    expect(pods.map((p) => p.metadata.name).sort()).toEqual(['ok-build-pod', 'ok-clone-pod', 'ok-deploy-pod']);
    const build = pods.find((p) => p.metadata.name === 'ok-build-pod')!;
    expect(build.metadata.labels).toMatchObject({
      'tekton.dev/pipelineRun': 'ok',
      'tekton.dev/pipelineTask': 'build',
      'tekton.dev/taskRun': 'ok-build',
      'app.kubernetes.io/managed-by': 'tekton-pipelines',
    });
    expect(build.spec.containers.map((c) => c.name)).toEqual(['step-build', 'step-push']);
    expect(pods.every((p) => p.status.phase === 'Succeeded')).toBe(true);
    expect(await stepLog('ok-clone-pod', 'step-clone')).toContain('Successfully cloned');
    expect(await stepLog('ok-deploy-pod', 'step-deploy')).toContain('successfully rolled out');
  });

  it('fails the build when the annotation asks for it, with the failing step in the logs', async () => {
    t = await startTestCluster({ tekton: 'simulate' });
    const body = pipelineRunManifest('bad', { annotations: { 'stackblaze.dev/simulate-outcome': 'failed' } });
    const { transitions, final } = await runToEnd(body, 'bad');
    expect(transitions).toEqual(['none', 'Unknown/Started', 'Unknown/Running', 'False/Failed']);
    expect(succeededCondition(final)?.message).toBe('Tasks Completed: 2 (Failed: 1, Cancelled 0), Skipped: 1');
    expect(final.status?.childReferences?.map((c) => c.pipelineTaskName)).toEqual(['clone', 'build']);
    const phases = Object.fromEntries((await podsOf('bad')).map((p) => [p.metadata.name, p.status.phase]));
    expect(phases).toEqual({ 'bad-clone-pod': 'Succeeded', 'bad-build-pod': 'Failed' });
    expect(await stepLog('bad-build-pod', 'step-build')).toContain('error building image');
    expect(await stepLog('bad-build-pod', 'step-push')).toContain('Skipping step because a previous step failed');
  });

  it('picks the outcome from a simulate/ branch in the revision param', async () => {
    t = await startTestCluster({ tekton: 'simulate' });
    const body = pipelineRunManifest('by-branch', { spec: { params: [{ name: 'revision', value: 'refs/heads/simulate/fail' }] } });
    const { transitions } = await runToEnd(body, 'by-branch');
    expect(transitions.at(-1)).toBe('False/Failed');
  });

  it('times out with False/PipelineRunTimeout', async () => {
    t = await startTestCluster({ tekton: 'simulate' });
    const body = pipelineRunManifest('slow', { spec: { params: [{ name: 'revision', value: 'simulate/timeout' }] } });
    const { transitions, final } = await runToEnd(body, 'slow');
    expect(transitions).toEqual(['none', 'Unknown/Started', 'Unknown/Running', 'False/PipelineRunTimeout']);
    expect(succeededCondition(final)?.message).toBe('PipelineRun "slow" failed to finish within "1h0m0s"');
  });

  it('fails validation at once with False/PipelineValidationFailed', async () => {
    t = await startTestCluster({ tekton: 'simulate' });
    const body = pipelineRunManifest('invalid', { annotations: { 'stackblaze.dev/simulate-outcome': 'validation-failed' } });
    const { transitions, final } = await runToEnd(body, 'invalid');
    expect(transitions).toEqual(['none', 'False/PipelineValidationFailed']);
    expect(final.status?.childReferences).toBeUndefined();
    expect(await podsOf('invalid')).toEqual([]);
  });

  it('cancels a running PipelineRun when spec.status becomes Cancelled', async () => {
    t = await startTestCluster({ tekton: 'simulate', simulation: { stepMs: 80 } });
    const watch = await recordWatch(t, `/apis/tekton.dev/v1/namespaces/${namespace}/pipelineruns`);
    await createRun(t, pipelineRunManifest('stop-me'));
    await waitFor(async () => succeededCondition(await getRun(t, 'stop-me'))?.reason === 'Running', 'Running');
    await patchRun(t, 'stop-me', { spec: { status: 'Cancelled' } });
    const final = await waitFor(async () => {
      const run = await getRun(t, 'stop-me');
      return succeededCondition(run)?.status === 'False' ? run : undefined;
    }, 'the cancellation');
    expect(succeededCondition(final)).toMatchObject({ reason: 'Cancelled', message: 'PipelineRun "stop-me" was cancelled' });
    expect(final.status?.completionTime).toBeTruthy();
    expect((await podsOf('stop-me')).map((p) => p.status.phase)).toContain('Failed');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(succeededCondition(await getRun(t, 'stop-me'))?.reason).toBe('Cancelled');
    watch.abort();
  });

  it('shows CancelledRunningFinally before Cancelled for spec.status CancelledRunFinally', async () => {
    t = await startTestCluster({ tekton: 'simulate', simulation: { stepMs: 80 } });
    const watch = await recordWatch(t, `/apis/tekton.dev/v1/namespaces/${namespace}/pipelineruns`);
    await createRun(t, pipelineRunManifest('graceful'));
    await waitFor(async () => succeededCondition(await getRun(t, 'graceful'))?.reason === 'Running', 'Running');
    await patchRun(t, 'graceful', { spec: { status: 'CancelledRunFinally' } });
    await waitFor(() => watch.events.some((e) => succeededCondition(e.object)?.status === 'False'), 'the end');
    const reasons = watch.events.map((e) => succeededCondition(e.object)?.reason ?? 'none');
    expect(reasons.slice(reasons.indexOf('CancelledRunningFinally'))).toEqual(['CancelledRunningFinally', 'Cancelled']);
    watch.abort();
  });

  it('holds a pending PipelineRun (Unknown/PipelineRunPending, no start time) until spec.status is removed', async () => {
    t = await startTestCluster({ tekton: 'simulate' });
    await createRun(t, pipelineRunManifest('wait', { spec: { status: 'PipelineRunPending' } }));
    await waitFor(async () => succeededCondition(await getRun(t, 'wait')), 'the pending condition');
    await new Promise((resolve) => setTimeout(resolve, 250));
    const pending = await getRun(t, 'wait');
    expect(succeededCondition(pending)).toMatchObject({
      status: 'Unknown',
      reason: 'PipelineRunPending',
      message: 'PipelineRun "wait" is pending',
    });
    expect(pending.status?.startTime).toBeUndefined();

    await patchRun(t, 'wait', [{ op: 'remove', path: '/spec/status' }], 'application/json-patch+json');
    await waitFor(async () => succeededCondition(await getRun(t, 'wait'))?.status === 'True', 'success after release');
  });

  it('deletes a run’s pods with it', async () => {
    t = await startTestCluster({ tekton: 'simulate' });
    await runToEnd(pipelineRunManifest('cleanup'), 'cleanup');
    expect(await podsOf('cleanup')).toHaveLength(3);
    await t.custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'cleanup' });
    expect(await podsOf('cleanup')).toEqual([]);
  });

  it('resumes in-flight runs after a restart', async () => {
    t = await startTestCluster({ tekton: 'simulate', simulation: { stepMs: 60 } });
    await createRun(t, pipelineRunManifest('survivor'));
    await waitFor(async () => succeededCondition(await getRun(t, 'survivor'))?.reason === 'Running', 'Running');
    const before = await getRun(t, 'survivor');
    await t.restart();
    const final = await waitFor(async () => {
      const run = await getRun(t, 'survivor');
      return succeededCondition(run)?.status === 'True' ? run : undefined;
    }, 'the run to finish after the restart');
    expect(Number(final.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
    expect(final.status?.startTime).toBe(before.status?.startTime);
    expect(final.status?.childReferences).toHaveLength(3);
  });

  it("leaves status alone with tekton: 'off'", async () => {
    t = await startTestCluster({ tekton: 'off' });
    await createRun(t, pipelineRunManifest('idle'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await getRun(t, 'idle')).status).toBeUndefined();
  });
});
