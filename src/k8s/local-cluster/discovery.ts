import { apiVersionOf, resourceTypes, type ResourceType } from './resources.js';

/**
 * The legacy discovery documents. kubectl first asks for aggregated discovery and falls back
 * to these when the answer is a plain APIGroupList.
 */
export function discoveryDocument(path: string, serverAddress: string): object | undefined {
  if (path === '/version') return versionInfo();
  if (path === '/api') {
    return {
      kind: 'APIVersions',
      versions: ['v1'],
      serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
    };
  }
  if (path === '/apis') return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups().map(apiGroup) };
  if (path === '/api/v1') return resourceList('', 'v1');
  for (const { group, version } of groups()) {
    if (path === `/apis/${group}`) return { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup({ group, version }) };
    if (path === `/apis/${group}/${version}`) return resourceList(group, version);
  }
  return undefined;
}

function versionInfo(): object {
  return {
    major: '1',
    minor: '32',
    gitVersion: 'v1.32.0-stackblaze-local',
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-01-01T00:00:00Z',
    goVersion: `node${process.versions.node}`,
    compiler: 'node',
    platform: `${process.platform}/${process.arch}`,
  };
}

function groups(): { group: string; version: string }[] {
  const named = resourceTypes.filter((type) => type.group !== '');
  return [...new Map(named.map((type) => [apiVersionOf(type), { group: type.group, version: type.version }])).values()];
}

function apiGroup({ group, version }: { group: string; version: string }): object {
  const groupVersion = { groupVersion: `${group}/${version}`, version };
  return { name: group, versions: [groupVersion], preferredVersion: groupVersion };
}

function resourceList(group: string, version: string): object {
  const types = resourceTypes.filter((type) => type.group === group && type.version === version);
  const namespaces = { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'], shortNames: ['ns'] };
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group ? `${group}/${version}` : version,
    resources: [...(group === '' ? [namespaces] : []), ...types.flatMap((type) => [
      {
        name: type.plural,
        singularName: type.singular,
        namespaced: true,
        kind: type.kind,
        verbs: verbs(type),
        shortNames: type.shortNames,
        ...(type.group === 'tekton.dev' ? { categories: ['tekton', 'tekton-pipelines'] } : {}),
      },
      ...(type.statusSubresource && type.creatable
        ? [{ name: `${type.plural}/status`, singularName: '', namespaced: true, kind: type.kind, verbs: ['get', 'patch', 'update'] }]
        : []),
      ...(type.plural === 'pods' ? [{ name: 'pods/log', singularName: '', namespaced: true, kind: 'Pod', verbs: ['get'] }] : []),
    ])],
  };
}

function verbs(type: ResourceType): string[] {
  return type.creatable
    ? ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']
    : ['delete', 'get', 'list', 'watch'];
}
