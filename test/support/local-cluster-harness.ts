import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions } from '../../src/k8s/local-cluster/index.js';

export const group = 'tekton.dev';
export const version = 'v1';
export const plural = 'pipelineruns';
export const namespace = 'stackblaze-builds';

/** A running cluster in its own temporary data directory, with real clients bound to its kubeconfig. */
export interface TestCluster {
  cluster: LocalCluster;
  dataDir: string;
  kc: k8s.KubeConfig;
  custom: k8s.CustomObjectsApi;
  core: k8s.CoreV1Api;
  /** Stops the cluster (again) with the same data directory, e.g. to check persistence. */
  restart(options?: Partial<LocalClusterOptions>): Promise<void>;
  /** Stops the cluster and removes its data directory. */
  dispose(): Promise<void>;
}

export async function startTestCluster(options: Partial<LocalClusterOptions> = {}): Promise<TestCluster> {
  const dataDir = await mkdtemp(join(tmpdir(), 'local-cluster-test-'));
  const base = { dataDir, port: 0, tekton: 'off' as const, simulation: { stepMs: 40 }, ...options };
  const harness = {} as TestCluster;
  const bind = async (cluster: LocalCluster) => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cluster.kubeconfigPath);
    Object.assign(harness, {
      cluster,
      kc,
      custom: kc.makeApiClient(k8s.CustomObjectsApi),
      core: kc.makeApiClient(k8s.CoreV1Api),
    });
  };
  await bind(await startLocalCluster(base));
  Object.assign(harness, {
    dataDir,
    async restart(more: Partial<LocalClusterOptions> = {}) {
      await harness.cluster.stop();
      await bind(await startLocalCluster({ ...base, ...more }));
    },
    async dispose() {
      await harness.cluster.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  });
  return harness;
}

export interface PipelineRunObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    resourceVersion: string;
    generation: number;
    creationTimestamp: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: Record<string, unknown>;
  status?: {
    conditions?: { type: string; status: string; reason: string; message?: string; lastTransitionTime: string }[];
    startTime?: string;
    completionTime?: string;
    childReferences?: { apiVersion: string; kind: string; name: string; pipelineTaskName: string }[];
    [key: string]: unknown;
  };
}

export function pipelineRunManifest(
  name: string,
  extra: { labels?: Record<string, string>; annotations?: Record<string, string>; spec?: Record<string, unknown> } = {},
): object {
  return {
    apiVersion: 'tekton.dev/v1',
    kind: 'PipelineRun',
    metadata: { name, ...(extra.labels ? { labels: extra.labels } : {}), ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { pipelineRef: { name: 'build-and-deploy' }, params: [{ name: 'revision', value: 'main' }], ...extra.spec },
  };
}

export async function createRun(t: TestCluster, body: object, ns = namespace): Promise<PipelineRunObject> {
  return (await t.custom.createNamespacedCustomObject({ group, version, namespace: ns, plural, body })) as PipelineRunObject;
}

export async function getRun(t: TestCluster, name: string, ns = namespace): Promise<PipelineRunObject> {
  return (await t.custom.getNamespacedCustomObject({ group, version, namespace: ns, plural, name })) as PipelineRunObject;
}

export async function patchRun(
  t: TestCluster,
  name: string,
  body: unknown,
  contentType: string = k8s.PatchStrategy.MergePatch,
): Promise<PipelineRunObject> {
  return (await t.custom.patchNamespacedCustomObject(
    { group, version, namespace, plural, name, body },
    k8s.setHeaderOptions('Content-Type', contentType),
  )) as PipelineRunObject;
}

export async function patchStatus(t: TestCluster, name: string, status: unknown, ns = namespace): Promise<PipelineRunObject> {
  return (await t.custom.patchNamespacedCustomObjectStatus(
    { group, version, namespace: ns, plural, name, body: { status } },
    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
  )) as PipelineRunObject;
}

/** The `Status` body and HTTP code of a failed client-node call. */
export async function apiFailure(call: Promise<unknown>): Promise<{ code: number; status: Record<string, unknown> }> {
  try {
    await call;
  } catch (error) {
    if (error instanceof k8s.ApiException) {
      const body = error.body as unknown;
      return { code: error.code, status: (typeof body === 'string' ? JSON.parse(body) : body) as Record<string, unknown> };
    }
    throw error;
  }
  throw new Error('expected the call to fail');
}

export function succeededCondition(run: PipelineRunObject | undefined) {
  return run?.status?.conditions?.find((c) => c.type === 'Succeeded');
}

export async function waitFor<T>(check: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface WatchRecorder {
  events: { type: string; object: PipelineRunObject }[];
  ended: Promise<unknown>;
  abort(): void;
}

/** Opens a watch with client-node's Watch and records every event it delivers. */
export async function recordWatch(t: TestCluster, path: string, query: Record<string, string | boolean> = {}): Promise<WatchRecorder> {
  const events: WatchRecorder['events'] = [];
  let finish!: (error: unknown) => void;
  const ended = new Promise((resolve) => {
    finish = resolve;
  });
  const controller = await new k8s.Watch(t.kc).watch(
    path,
    query,
    (type, object) => events.push({ type, object: object as PipelineRunObject }),
    (error) => finish(error ?? null),
  );
  return { events, ended, abort: () => controller.abort() };
}

const run = promisify(execFile);

export async function kubectl(t: TestCluster, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('kubectl', ['--kubeconfig', t.cluster.kubeconfigPath, ...args], { timeout: 20_000 });
}

let kubectlChecked: Promise<void> | undefined;

/** Fails (never skips) when kubectl is missing or too old for `patch --subresource`. */
export function requireKubectl(): Promise<void> {
  kubectlChecked ??= (async () => {
    const message = 'kubectl 1.32+ is required for these tests (1.27 at the very least, for patch --subresource)';
    let output: string;
    try {
      output = (await run('kubectl', ['version', '--client', '-o', 'json'], { timeout: 20_000 })).stdout;
    } catch (error) {
      throw new Error(`${message}; running it failed: ${(error as Error).message}`);
    }
    const { clientVersion } = JSON.parse(output) as { clientVersion?: { major?: string; minor?: string } };
    const major = Number(clientVersion?.major);
    const minor = Number.parseInt(clientVersion?.minor ?? '', 10);
    if (!(major > 1 || (major === 1 && minor >= 27))) {
      throw new Error(`${message}; found ${clientVersion?.major ?? '?'}.${clientVersion?.minor ?? '?'}`);
    }
  })();
  return kubectlChecked;
}
