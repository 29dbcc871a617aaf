/**
 * The kinds this cluster serves. Everything else (routing, discovery, validation messages,
 * field selectors) is derived from these descriptions, so adding a kind is one entry here.
 */
export interface ResourceType {
  /** '' for the core group (`/api/v1`). */
  group: string;
  version: string;
  plural: string;
  singular: string;
  kind: string;
  shortNames: string[];
  /** Whether `/status` is a subresource: then writes to the main resource never change status. */
  statusSubresource: boolean;
  /** Field selector keys accepted besides metadata.name and metadata.namespace. */
  selectableFields: string[];
  /** Whether clients may create, update and patch it (pods come from the Tekton simulator only). */
  creatable: boolean;
  /** Tekton's admission webhook refuses longer names: they are copied into 63-character label values. */
  maxNameLength?: number;
}

export const pipelineRuns: ResourceType = {
  group: 'tekton.dev',
  version: 'v1',
  plural: 'pipelineruns',
  singular: 'pipelinerun',
  kind: 'PipelineRun',
  shortNames: ['pr', 'prs'],
  statusSubresource: true,
  selectableFields: [],
  creatable: true,
  maxNameLength: 63,
};

export const pods: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'pods',
  singular: 'pod',
  kind: 'Pod',
  shortNames: ['po'],
  statusSubresource: true,
  selectableFields: ['spec.nodeName', 'spec.serviceAccountName', 'status.phase', 'status.podIP'],
  creatable: false,
};

/** Served (always empty) so that `kubectl describe` can list events for an object. */
export const events: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'events',
  singular: 'event',
  kind: 'Event',
  shortNames: ['ev'],
  statusSubresource: false,
  selectableFields: [
    'involvedObject.apiVersion',
    'involvedObject.fieldPath',
    'involvedObject.kind',
    'involvedObject.name',
    'involvedObject.namespace',
    'involvedObject.resourceVersion',
    'involvedObject.uid',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  creatable: false,
};

export const resourceTypes: readonly ResourceType[] = [pipelineRuns, pods, events];

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/** `pipelineruns.tekton.dev` or `pods`: how the API server names a resource in messages. */
export function groupResource(type: ResourceType): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

export function findResourceType(group: string, version: string, plural: string): ResourceType | undefined {
  return resourceTypes.find((t) => t.group === group && t.version === version && t.plural === plural);
}
