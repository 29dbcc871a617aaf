import { randomBytes, randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import {
  ApiError,
  alreadyExists,
  badRequest,
  conflict,
  internalError,
  invalid,
  methodNotAllowed,
  notFound,
  unsupportedMediaType,
} from './api-errors.js';
import { isJsonObject, kubeTime, type Json, type JsonObject, type KubeObject, type UnversionedObject } from './kube-object.js';
import { applyJsonPatch, applyMergePatch } from './patch.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import type { Selector } from './selectors.js';
import type { ObjectStore } from './store.js';

export interface ListOptions {
  labelSelector: Selector;
  fieldSelector: Selector;
  limit?: number;
  continueToken?: string;
}

export interface ObjectList {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: KubeObject[];
}

export const patchContentTypes = ['application/json-patch+json', 'application/merge-patch+json'] as const;

const dns1123Subdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dns1123Message =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/**
 * The verbs of the Kubernetes API on stored objects, with the API server's rules: system
 * metadata is server-owned, status only changes through `/status`, optimistic concurrency on
 * resourceVersion, and deletes cascade to owned objects.
 */
export class ResourceApi {
  constructor(private readonly store: ObjectStore) {}

  get(type: ResourceType, namespace: string, name: string): KubeObject {
    const object = this.store.get(type.plural, namespace, name);
    if (!object) throw notFound(type, name);
    return object;
  }

  list(type: ResourceType, namespace: string | undefined, options: ListOptions): ObjectList {
    const resourceVersion = String(this.store.resourceVersion);
    let items = this.store
      .list(type.plural, namespace)
      .filter((object) => options.labelSelector(object) && options.fieldSelector(object));
    const metadata: ObjectList['metadata'] = { resourceVersion };
    if (options.continueToken) {
      const after = decodeContinue(options.continueToken);
      items = items.filter((o) => `${o.metadata.namespace}/${o.metadata.name}` > after);
    }
    if (options.limit && options.limit > 0 && items.length > options.limit) {
      const last = items[options.limit - 1];
      metadata.remainingItemCount = items.length - options.limit;
      items = items.slice(0, options.limit);
      if (last) metadata.continue = encodeContinue(`${last.metadata.namespace}/${last.metadata.name}`);
    }
    return { apiVersion: apiVersionOf(type), kind: `${type.kind}List`, metadata, items };
  }

  create(type: ResourceType, namespace: string, body: Json): KubeObject {
    if (!type.creatable) throw methodNotAllowed();
    const object = this.checkBody(type, namespace, body);
    const metadata = object.metadata;
    if (metadata.resourceVersion) throw internalError('resourceVersion should not be set on objects to be created');
    let name = typeof metadata.name === 'string' ? metadata.name : '';
    if (!name && typeof metadata.generateName === 'string' && metadata.generateName) {
      name = generateName(type, namespace, metadata.generateName, this.store);
    }
    if (!name) throw invalid(type, '', 'metadata.name', 'Required value: name or generateName is required');
    this.validateName(type, name);
    if (this.store.get(type.plural, namespace, name)) throw alreadyExists(type, name);

    const { status: _ignored, ...withoutStatus } = object;
    const created: UnversionedObject = {
      ...(type.statusSubresource ? withoutStatus : object),
      apiVersion: apiVersionOf(type),
      kind: type.kind,
      metadata: {
        ...metadata,
        name,
        namespace,
        uid: randomUUID(),
        generation: 1,
        creationTimestamp: kubeTime(),
      },
    };
    return this.store.create(type.plural, created);
  }

  /** PUT: the whole object (or only its status, for `/status`), guarded by resourceVersion. */
  update(type: ResourceType, namespace: string, name: string, body: Json, subresource?: 'status'): KubeObject {
    if (!type.creatable) throw methodNotAllowed();
    const current = this.get(type, namespace, name);
    const proposed = this.checkBody(type, namespace, body);
    if (!proposed.metadata.resourceVersion) {
      throw invalid(type, name, 'metadata.resourceVersion', 'Invalid value: 0x0: must be specified for an update');
    }
    return this.commit(type, current, proposed, subresource);
  }

  patch(
    type: ResourceType,
    namespace: string,
    name: string,
    contentType: string,
    patch: Json,
    subresource?: 'status',
  ): KubeObject {
    if (!type.creatable) throw methodNotAllowed();
    const current = this.get(type, namespace, name);
    const document = current as unknown as Json;
    let patched: Json;
    if (contentType === 'application/merge-patch+json') patched = applyMergePatch(document, patch);
    else if (contentType === 'application/json-patch+json') patched = applyJsonPatch(document, patch);
    // Custom resources have no strategic-merge schema, and server-side apply is not served here.
    else throw unsupportedMediaType(patchContentTypes);
    if (!isJsonObject(patched) || !isJsonObject(patched.metadata)) {
      throw badRequest('the patch produced an object without metadata');
    }
    return this.commit(type, current, patched as unknown as KubeObject, subresource);
  }

  /** Deletes the object and, as the garbage collector would, everything it owns. */
  delete(type: ResourceType, namespace: string, name: string): KubeObject {
    const current = this.get(type, namespace, name);
    const deleted = this.store.remove(type.plural, namespace, name) ?? current;
    this.deleteDependents(current.metadata.uid);
    return deleted;
  }

  private deleteDependents(ownerUid: string | undefined): void {
    if (!ownerUid) return;
    for (const { resource, namespace, name } of this.store.ownedBy(ownerUid)) {
      const removed = this.store.remove(resource, namespace, name);
      this.deleteDependents(removed?.metadata.uid);
    }
  }

  /** Applies a proposed new version: system metadata stays the server's, status moves only via `/status`. */
  private commit(
    type: ResourceType,
    current: KubeObject,
    proposed: KubeObject | UnversionedObject,
    subresource: 'status' | undefined,
  ): KubeObject {
    const { name, namespace } = current.metadata;
    if (proposed.metadata.name !== undefined && proposed.metadata.name !== name) {
      throw badRequest(`the name of the object (${String(proposed.metadata.name)}) does not match the name on the URL (${name})`);
    }
    if (proposed.metadata.resourceVersion && proposed.metadata.resourceVersion !== current.metadata.resourceVersion) {
      throw conflict(type, name);
    }
    let next: UnversionedObject;
    if (subresource === 'status') {
      const { status: _old, ...rest } = current;
      next = proposed.status === undefined ? rest : { ...rest, status: proposed.status };
    } else {
      const { status: _proposedStatus, ...rest } = proposed;
      const keepStatus = type.statusSubresource ? current.status : proposed.status;
      const specChanged = !isDeepStrictEqual(proposed.spec, current.spec);
      next = {
        ...rest,
        ...(keepStatus === undefined ? {} : { status: keepStatus }),
        apiVersion: current.apiVersion,
        kind: current.kind,
        metadata: {
          ...proposed.metadata,
          name,
          namespace,
          uid: current.metadata.uid,
          creationTimestamp: current.metadata.creationTimestamp,
          generation: (current.metadata.generation ?? 1) + (specChanged ? 1 : 0),
        },
      };
    }
    return this.store.replace(type.plural, next);
  }

  /** Checks what every create or update body needs: the right kind, a metadata object, the URL's namespace. */
  private checkBody(type: ResourceType, namespace: string, body: Json): UnversionedObject {
    if (!isJsonObject(body)) throw badRequest('the request body must be a JSON object');
    const text = JSON.stringify(body).slice(0, 200);
    if (typeof body.kind !== 'string' || !body.kind) throw badRequest(`Object 'Kind' is missing in '${text}'`);
    if (typeof body.apiVersion !== 'string' || !body.apiVersion) {
      throw badRequest(`Object 'apiVersion' is missing in '${text}'`);
    }
    if (body.apiVersion !== apiVersionOf(type)) {
      throw badRequest(
        `the API version in the data (${body.apiVersion}) does not match the expected API version (${apiVersionOf(type)})`,
      );
    }
    if (body.kind !== type.kind) {
      throw badRequest(`${body.kind} in version "${type.version}" cannot be handled as a ${type.kind}`);
    }
    const metadata = body.metadata ?? {};
    if (!isJsonObject(metadata)) throw badRequest(`${type.kind} in version "${type.version}" cannot be handled as a ${type.kind}: metadata must be an object`);
    if (metadata.namespace !== undefined && metadata.namespace !== '' && metadata.namespace !== namespace) {
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    }
    return { ...(body as unknown as UnversionedObject), metadata: { ...(metadata as JsonObject), namespace } as UnversionedObject['metadata'] };
  }

  private validateName(type: ResourceType, name: string): void {
    if (name.length > 253 || !dns1123Subdomain.test(name)) {
      throw invalid(type, name, 'metadata.name', `Invalid value: "${name}": ${dns1123Message}`);
    }
    if (type.maxNameLength && name.length > type.maxNameLength) {
      throw new ApiError(
        400,
        'BadRequest',
        `admission webhook "validation.webhook.pipeline.tekton.dev" denied the request: validation failed: Invalid resource name: length must be no more than ${type.maxNameLength} characters: metadata.name`,
      );
    }
  }
}

/** The API server's generateName suffix: five characters from an alphabet without vowels or look-alikes. */
function generateName(type: ResourceType, namespace: string, prefix: string, store: ObjectStore): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  for (;;) {
    const suffix = [...randomBytes(5)].map((byte) => alphabet[byte % alphabet.length]).join('');
    const name = `${prefix.slice(0, 58)}${suffix}`;
    if (!store.get(type.plural, namespace, name)) return name;
  }
}

function encodeContinue(lastKey: string): string {
  return Buffer.from(JSON.stringify({ start: lastKey })).toString('base64url');
}

function decodeContinue(token: string): string {
  try {
    const decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { start?: unknown };
    if (typeof decoded.start === 'string') return decoded.start;
  } catch {
    // fall through to the API server's answer for a token it cannot read
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}
