import { isDeepStrictEqual } from 'node:util';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
  [key: string]: unknown;
}

interface ObjectFields {
  apiVersion: string;
  kind: string;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [key: string]: unknown;
}

/** An object on its way into the store, which alone assigns resourceVersions. */
export interface UnversionedObject extends ObjectFields {
  metadata: ObjectMeta & { name: string; namespace: string };
}

/** A stored object. Stored objects are never mutated: every change builds a new one. */
export interface KubeObject extends ObjectFields {
  metadata: ObjectMeta & { name: string; namespace: string; resourceVersion: string };
}

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Kubernetes timestamps have second precision. */
export function kubeTime(at: Date = new Date()): string {
  return at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Whether two versions of an object differ in anything but their resourceVersion. */
export function sameContent(a: KubeObject, b: KubeObject): boolean {
  return isDeepStrictEqual(
    { ...a, metadata: { ...a.metadata, resourceVersion: '' } },
    { ...b, metadata: { ...b.metadata, resourceVersion: '' } },
  );
}
