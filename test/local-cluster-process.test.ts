import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as k8s from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalCluster } from '../src/k8s/local-cluster/index.js';
import { createRun, pipelineRunManifest, recordWatch, startTestCluster, waitFor, type TestCluster } from './support/local-cluster-harness.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startStandalone(dataDir: string): Promise<{ child: ChildProcessWithoutNullStreams; url: string; output: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/k8s/local-cluster/main.ts'], {
    cwd: repoRoot,
    env: { ...process.env, DATA_DIR: dataDir, CLUSTER_PORT: '0', LOCAL_TEKTON: 'simulate' },
  });
  cleanups.push(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const url = await waitFor(() => /listening on (http:\/\/\S+)/.exec(output)?.[1], 'the cluster to print its URL', 20_000);
  return { child, url, output: () => output };
}

describe('the cluster as its own process (npm run cluster)', () => {
  it('serves its kubeconfig, takes faults over HTTP, refuses a second owner of its data, and stops on SIGTERM', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'local-cluster-process-'));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
    const { child, url, output } = await startStandalone(dataDir);
    // The path is printed on its own line, which may arrive a moment after the URL's.
    await waitFor(() => output().includes(`kubeconfig: ${join(dataDir, 'kubeconfig')}`) || undefined, 'the cluster to print its kubeconfig path', 10_000);
    expect(await readFile(join(dataDir, 'kubeconfig'), 'utf8')).toContain(`server: "${url}"`);

    const kc = new k8s.KubeConfig();
    kc.loadFromFile(join(dataDir, 'kubeconfig'));
    expect(kc.getContextObject(kc.getCurrentContext())).toMatchObject({ name: 'local', namespace: 'stackblaze-builds' });
    const custom = kc.makeApiClient(k8s.CustomObjectsApi);
    const target = { group: 'tekton.dev', version: 'v1', namespace: 'stackblaze-builds', plural: 'pipelineruns' };

    const fault = await fetch(`${url}/_local/faults`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ failCreates: { status: 500, count: 1 } }),
    });
    expect(fault.status).toBe(200);
    await expect(custom.createNamespacedCustomObject({ ...target, body: pipelineRunManifest('first') })).rejects.toMatchObject({ code: 500 });
    await custom.createNamespacedCustomObject({ ...target, body: pipelineRunManifest('first') });

    await expect(startLocalCluster({ dataDir, tekton: 'off' })).rejects.toThrow(`(the local cluster's data) is in use by process ${child.pid}`);

    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    await expect(fetch(`${url}/version`)).rejects.toThrow();

    // The lock went with the process, and its objects are there for the next owner of the directory.
    const next = await startLocalCluster({ dataDir, tekton: 'off' });
    cleanups.push(() => next.stop());
    const nextConfig = new k8s.KubeConfig();
    nextConfig.loadFromFile(next.kubeconfigPath);
    const kept = (await nextConfig
      .makeApiClient(k8s.CustomObjectsApi)
      .getNamespacedCustomObject({ ...target, name: 'first' })) as { metadata: { name: string } };
    expect(kept.metadata.name).toBe('first');
  }, 60_000);
});

describe('stop()', () => {
  let t: TestCluster;
  it('ends open watches and closes the port', async () => {
    t = await startTestCluster({ tekton: 'simulate' });
    cleanups.push(() => t.dispose());
    const watch = await recordWatch(t, '/apis/tekton.dev/v1/pipelineruns');
    await createRun(t, pipelineRunManifest('in-flight'));
    await t.cluster.stop();
    await watch.ended;
    await expect(fetch(`${t.cluster.url}/version`)).rejects.toThrow();
  });
});
