import { createHash } from 'node:crypto';
import { resourceTypes } from './resources.js';
import type { ObjectStore } from './store.js';

/** Namespaces that a fresh cluster has, plus the one the kubeconfig points at. */
const builtIn = ['default', 'kube-public', 'kube-system', 'stackblaze-builds'];

/**
 * Every namespace exists here: objects may be created in any of them without creating it
 * first. They are still served read-only, because kubectl looks a namespace up to word its
 * "not found" errors, and `kubectl get namespaces` should show where objects are.
 */
export function namespaceObject(name: string, resourceVersion: number): object {
  const uid = createHash('sha256').update(name).digest('hex');
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      uid: `${uid.slice(0, 8)}-${uid.slice(8, 12)}-${uid.slice(12, 16)}-${uid.slice(16, 20)}-${uid.slice(20, 32)}`,
      resourceVersion: String(resourceVersion),
      creationTimestamp: '2025-01-01T00:00:00Z',
      labels: { 'kubernetes.io/metadata.name': name },
    },
    spec: { finalizers: ['kubernetes'] },
    status: { phase: 'Active' },
  };
}

export function namespaceList(store: ObjectStore): object {
  const names = new Set(builtIn);
  for (const type of resourceTypes) {
    for (const object of store.list(type.plural)) names.add(object.metadata.namespace);
  }
  return {
    apiVersion: 'v1',
    kind: 'NamespaceList',
    metadata: { resourceVersion: String(store.resourceVersion) },
    items: [...names].sort().map((name) => namespaceObject(name, 1)),
  };
}
