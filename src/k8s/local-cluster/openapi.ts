import { apiVersionOf, resourceTypes, type ResourceType } from './resources.js';

/**
 * Just enough OpenAPI v3 for kubectl: before `create -f` it looks up, per kind, whether the
 * server validates fields itself (a `fieldValidation` query parameter on the kind's PATCH).
 * Saying yes makes kubectl skip client-side schema validation, which would need the full schema.
 */
export function openApiDocument(path: string): object | undefined {
  const groupVersions = [...new Set(resourceTypes.filter((t) => t.creatable).map(apiVersionOf))];
  const prefixOf = (groupVersion: string) => (groupVersion.includes('/') ? `apis/${groupVersion}` : `api/${groupVersion}`);
  if (path === '/openapi/v3') {
    return {
      paths: Object.fromEntries(
        groupVersions.map((gv) => [prefixOf(gv), { serverRelativeURL: `/openapi/v3/${prefixOf(gv)}` }]),
      ),
    };
  }
  const groupVersion = groupVersions.find((gv) => path === `/openapi/v3/${prefixOf(gv)}`);
  if (!groupVersion) return undefined;
  const types = resourceTypes.filter((t) => t.creatable && apiVersionOf(t) === groupVersion);
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0' },
    paths: Object.fromEntries(types.map((type) => [objectPath(type, prefixOf(groupVersion)), { patch: patchOperation(type) }])),
    components: { schemas: {} },
  };
}

function objectPath(type: ResourceType, prefix: string): string {
  return `/${prefix}/namespaces/{namespace}/${type.plural}/{name}`;
}

function patchOperation(type: ResourceType): object {
  return {
    operationId: `patchNamespaced${type.kind}`,
    'x-kubernetes-action': 'patch',
    'x-kubernetes-group-version-kind': { group: type.group, version: type.version, kind: type.kind },
    parameters: [
      { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
      { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
      { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
    ],
    responses: { '200': { description: 'OK' } },
  };
}
