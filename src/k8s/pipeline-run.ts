/** Labels every PipelineRun of this app carries; the watch selects on MANAGED_BY_LABEL. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'stackblaze-control-plane';
export const DEPLOYMENT_LABEL = 'stackblaze.dev/deployment';
export const SERVICE_LABEL = 'stackblaze.dev/service';
export const ORGANIZATION_LABEL = 'stackblaze.dev/organization';

export const PIPELINE_RUN_GROUP = 'tekton.dev';
export const PIPELINE_RUN_VERSION = 'v1';
export const PIPELINE_RUN_PLURAL = 'pipelineruns';

/** The params every build Pipeline receives (deploy/pipeline.yaml declares exactly these). */
export const PIPELINE_PARAMS = ['repo-url', 'revision', 'clear-cache', 'image', 'service-name', 'target-namespace', 'deployment-id'] as const;

export interface PipelineRunInput {
  deploymentId: string;
  organizationId: string;
  serviceId: string;
  serviceSlug: string;
  repoUrl: string;
  branch: string;
  clearCache: boolean;
  pipelineName: string;
  namespace: string;
  imageRegistry: string;
  serviceAccount?: string | null;
}

export interface PipelineRunManifest {
  apiVersion: string;
  kind: 'PipelineRun';
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: Record<string, unknown>;
}

/** Label values: at most 63 characters of [A-Za-z0-9_.-], starting and ending alphanumeric. */
function labelValue(value: string): string {
  const cleaned = value.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return cleaned;
}

/** A namespace name for an organization's workloads (a DNS label). */
export function targetNamespaceFor(organizationId: string): string {
  return `sb-${organizationId.toLowerCase().replace(/[^a-z0-9-]/g, '-')}`.slice(0, 63).replace(/-+$/, '');
}

/**
 * The PipelineRun for one deployment, named exactly the deployment ID so that creating it twice
 * is harmless (the second create answers 409). Everything user-supplied travels as a param value
 * or an annotation, never as a name or label that it could break: IDs and the branch are checked
 * on the way in, and labels are sanitised here again.
 */
export function buildPipelineRun(input: PipelineRunInput): PipelineRunManifest {
  const image = `${input.imageRegistry}/${targetNamespaceFor(input.organizationId)}/${input.serviceSlug}:${input.deploymentId}`;
  const params: Record<(typeof PIPELINE_PARAMS)[number], string> = {
    'repo-url': input.repoUrl,
    revision: input.branch,
    'clear-cache': String(input.clearCache),
    image,
    'service-name': input.serviceSlug,
    'target-namespace': targetNamespaceFor(input.organizationId),
    'deployment-id': input.deploymentId,
  };
  return {
    apiVersion: `${PIPELINE_RUN_GROUP}/${PIPELINE_RUN_VERSION}`,
    kind: 'PipelineRun',
    metadata: {
      name: input.deploymentId,
      namespace: input.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
        [DEPLOYMENT_LABEL]: labelValue(input.deploymentId),
        [SERVICE_LABEL]: labelValue(input.serviceId),
        [ORGANIZATION_LABEL]: labelValue(input.organizationId),
      },
      annotations: { 'stackblaze.dev/branch': input.branch },
    },
    spec: {
      pipelineRef: { name: input.pipelineName },
      params: Object.entries(params).map(([name, value]) => ({ name, value })),
      timeouts: { pipeline: '1h0m0s' },
      ...(input.serviceAccount ? { taskRunTemplate: { serviceAccountName: input.serviceAccount } } : {}),
      workspaces: [
        {
          name: 'source',
          volumeClaimTemplate: {
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
          },
        },
      ],
    },
  };
}
