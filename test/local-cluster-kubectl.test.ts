import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiFailure,
  createRun,
  getRun,
  kubectl,
  patchStatus,
  pipelineRunManifest,
  requireKubectl,
  startTestCluster,
  succeededCondition,
  waitFor,
  type TestCluster,
} from './support/local-cluster-harness.js';

const fixtures = new URL('../../shared/fixtures/tekton/', import.meta.url);
const running = fileURLToPath(new URL('case-03-running.json', fixtures));
const fixtureName = '7103-reproducer-run-7jp4w';

let t: TestCluster;
beforeAll(async () => {
  t = await startTestCluster({ tekton: 'off' });
});
afterAll(async () => {
  await t.dispose();
});

/** kubectl's exit status and output, for calls expected to fail. */
async function kubectlFailure(...args: string[]): Promise<{ code: number; stderr: string }> {
  try {
    await kubectl(t, ...args);
  } catch (error) {
    const failure = error as { code: number; stderr: string };
    return { code: failure.code, stderr: failure.stderr };
  }
  throw new Error(`kubectl ${args.join(' ')} succeeded`);
}

describe('kubectl against the local cluster', () => {
  it('discovers pipelineruns with their short names', async () => {
    await requireKubectl();
    const { stdout } = await kubectl(t, 'api-resources', '--api-group=tekton.dev');
    expect(stdout).toMatch(/pipelineruns\s+pr,prs\s+tekton\.dev\/v1\s+true\s+PipelineRun/);
  });

  it('creates from a fixture file, which drops its status, and gets it as JSON and as a table', async () => {
    await requireKubectl();
    expect((await kubectl(t, 'get', 'pipelineruns', '-n', 'foo')).stderr).toContain('No resources found in foo namespace.');
    const created = await kubectl(t, 'create', '-f', running);
    expect(created.stdout.trim()).toBe(`pipelinerun.tekton.dev/${fixtureName} created`);

    const viaClient = await getRun(t, fixtureName, 'foo');
    expect(viaClient.status).toBeUndefined();
    const json = JSON.parse((await kubectl(t, 'get', 'pipelinerun', fixtureName, '-n', 'foo', '-o', 'json')).stdout);
    expect(json).toMatchObject({ kind: 'PipelineRun', metadata: { name: fixtureName, uid: viaClient.metadata.uid } });

    const table = (await kubectl(t, 'get', 'pr', '-n', 'foo')).stdout.split('\n');
    expect(table[0]).toMatch(/^NAME\s+SUCCEEDED\s+REASON\s+STARTTIME\s+COMPLETIONTIME$/);
    expect(table[1]).toMatch(new RegExp(`^${fixtureName}\\s*$`));
  });

  it('patches the status subresource with --subresource=status --type=merge', async () => {
    await requireKubectl();
    const status = {
      status: {
        startTime: '2023-10-03T10:55:12Z',
        conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'Running', lastTransitionTime: '2023-10-03T10:55:19Z' }],
      },
    };
    const patched = await kubectl(t, 'patch', 'pipelinerun', fixtureName, '-n', 'foo', '--subresource=status', '--type=merge', '-p', JSON.stringify(status));
    expect(patched.stdout.trim()).toBe(`pipelinerun.tekton.dev/${fixtureName} patched`);
    expect(succeededCondition(await getRun(t, fixtureName, 'foo'))).toMatchObject({ status: 'Unknown', reason: 'Running' });
    expect((await kubectl(t, 'get', 'pr', fixtureName, '-n', 'foo', '--no-headers')).stdout).toMatch(
      new RegExp(`^${fixtureName}\\s+Unknown\\s+Running\\s+\\S+`),
    );
  });

  it('describes a PipelineRun', async () => {
    await requireKubectl();
    const { stdout } = await kubectl(t, 'describe', 'pipelinerun', fixtureName, '-n', 'foo');
    expect(stdout).toMatch(new RegExp(`^Name:\\s+${fixtureName}$`, 'm'));
    expect(stdout).toMatch(/^Namespace:\s+foo$/m);
    expect(stdout).toMatch(/Reason:\s+Running/);
    expect(stdout).toMatch(/^Events:\s+<none>$/m);
  });

  it('follows changes with get -w', async () => {
    await requireKubectl();
    await createRun(t, pipelineRunManifest('watched'));
    const child = spawn('kubectl', ['--kubeconfig', t.cluster.kubeconfigPath, 'get', 'pipelineruns', '-w']);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      await waitFor(() => /^watched\s/m.test(output), 'the listed row', 10_000);
      // These two arrive through the watch that kubectl opens after listing.
      await patchStatus(t, 'watched', { conditions: [{ type: 'Succeeded', status: 'Unknown', reason: 'Running', lastTransitionTime: '2025-01-01T00:00:00Z' }] });
      await createRun(t, pipelineRunManifest('late'));
      await waitFor(() => /^watched\s+Unknown\s+Running/m.test(output) && /^late\s/m.test(output), 'the watched rows', 10_000);
    } finally {
      child.kill();
    }
    expect(output.split('\n')[0]).toMatch(/^NAME\s+SUCCEEDED\s+REASON/);
  });

  it('reports a missing PipelineRun the way it does against a real cluster', async () => {
    await requireKubectl();
    const failure = await kubectlFailure('get', 'pipelinerun', 'nope');
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain('Error from server (NotFound): pipelineruns.tekton.dev "nope" not found');
  });

  it('deletes a PipelineRun', async () => {
    await requireKubectl();
    await createRun(t, pipelineRunManifest('doomed'));
    expect((await kubectl(t, 'delete', 'pipelinerun', 'doomed')).stdout.trim()).toBe('pipelinerun.tekton.dev "doomed" deleted');
    expect((await apiFailure(getRun(t, 'doomed'))).code).toBe(404);
  });
});

