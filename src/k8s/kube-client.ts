import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Pod,
} from '@kubernetes/client-node';
import {
  PIPELINE_RUN_GROUP,
  PIPELINE_RUN_PLURAL,
  PIPELINE_RUN_VERSION,
  type PipelineRunManifest,
} from './pipeline-run.js';
import type { PipelineRunLike } from './status-mapping.js';

/** What the app asks of Kubernetes, and nothing more (deploy/rbac.yaml grants exactly this). */
export interface PipelineRunClient {
  /** 'exists' when a PipelineRun of that name is already there (a 409): creation is idempotent. */
  create(manifest: PipelineRunManifest): Promise<'created' | 'exists'>;
  get(name: string): Promise<PipelineRunLike | null>;
  /** Asks Tekton to cancel: merge-patches `spec.status: Cancelled`. False when it no longer exists. */
  cancel(name: string): Promise<boolean>;
  /** The TaskRun pods of a PipelineRun (label `tekton.dev/pipelineRun`). */
  listPods(pipelineRunName: string): Promise<V1Pod[]>;
  readLog(podName: string, container: string): Promise<string>;
}

/** A Kubernetes error worth retrying: no answer, 429, or a 5xx. */
export function isTransient(error: unknown): boolean {
  if (error instanceof ApiException) return error.code === 429 || error.code >= 500;
  return true;
}

/** Why a call failed, in words fit for a deployment's message (no credentials, no stack). */
export function describeKubeError(error: unknown): string {
  if (error instanceof ApiException) {
    const body = typeof error.body === 'string' ? safeParse(error.body) : error.body;
    const message = (body as { message?: string } | undefined)?.message;
    return `Kubernetes answered ${error.code}${message ? `: ${message}` : ''}`;
  }
  const code = (error as { code?: string })?.code;
  return `Kubernetes API unreachable${code ? ` (${code})` : ''}`;
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export class KubePipelineRunClient implements PipelineRunClient {
  private readonly custom: CustomObjectsApi;
  private readonly core: CoreV1Api;

  constructor(private readonly props: { kubeConfig: KubeConfig; namespace: string }) {
    this.custom = props.kubeConfig.makeApiClient(CustomObjectsApi);
    this.core = props.kubeConfig.makeApiClient(CoreV1Api);
  }

  private target() {
    return { group: PIPELINE_RUN_GROUP, version: PIPELINE_RUN_VERSION, namespace: this.props.namespace, plural: PIPELINE_RUN_PLURAL };
  }

  async create(manifest: PipelineRunManifest): Promise<'created' | 'exists'> {
    try {
      await this.custom.createNamespacedCustomObject({ ...this.target(), body: manifest });
      return 'created';
    } catch (error) {
      if (error instanceof ApiException && error.code === 409) return 'exists';
      throw error;
    }
  }

  async get(name: string): Promise<PipelineRunLike | null> {
    try {
      return (await this.custom.getNamespacedCustomObject({ ...this.target(), name })) as PipelineRunLike;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return null;
      throw error;
    }
  }

  async cancel(name: string): Promise<boolean> {
    try {
      await this.custom.patchNamespacedCustomObject(
        { ...this.target(), name, body: { spec: { status: 'Cancelled' } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
      return true;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return false;
      throw error;
    }
  }

  async listPods(pipelineRunName: string): Promise<V1Pod[]> {
    const list = await this.core.listNamespacedPod({
      namespace: this.props.namespace,
      labelSelector: `tekton.dev/pipelineRun=${pipelineRunName}`,
    });
    return list.items;
  }

  async readLog(podName: string, container: string): Promise<string> {
    return this.core.readNamespacedPodLog({ name: podName, namespace: this.props.namespace, container });
  }
}
