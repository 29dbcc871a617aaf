import { ChangeLog, objectKey } from './change-log.js';
import { sameContent, type KubeObject, type UnversionedObject } from './kube-object.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  type: ChangeType;
  resource: string;
  /** The new state; for DELETED the last state, stamped with the deletion's resourceVersion. */
  object: KubeObject;
  /** The state before a MODIFIED or DELETED, so selector watches can tell objects leaving. */
  previous?: KubeObject;
  resourceVersion: number;
}

export type StoreListener = (event: StoreEvent) => void;

export interface ObjectReference {
  resource: string;
  namespace: string;
  name: string;
}

export interface ObjectStoreOptions {
  dir: string;
  /** How many past events stay available for watches resuming from a resourceVersion. */
  historyLimit: number;
}

/**
 * Every object of every kind, one global resourceVersion counter shared by all of them (as
 * etcd's revision is), and a bounded history of changes for watches that resume.
 */
export class ObjectStore {
  private readonly objects: Map<string, Map<string, KubeObject>>;
  private revision: number;
  private readonly history: StoreEvent[] = [];
  /** A watch may resume from this version or later; older ones have lost events. */
  private oldestResumable: number;
  private readonly listeners = new Set<StoreListener>();
  private readonly pending: StoreEvent[] = [];
  private dispatching = false;
  /** Owner uid → the objects whose ownerReferences name it, for cascading deletes without a scan. */
  private readonly dependents = new Map<string, Map<string, ObjectReference>>();

  private constructor(
    private readonly log: ChangeLog,
    state: { resourceVersion: number; objects: Map<string, Map<string, KubeObject>> },
    private readonly historyLimit: number,
  ) {
    this.objects = state.objects;
    this.revision = state.resourceVersion;
    // History is not persisted: after a restart, like an API server rebuilding its watch cache,
    // only watches from the current version can resume; older ones get 410 and relist.
    this.oldestResumable = state.resourceVersion;
    for (const [resource, objects] of this.objects) {
      for (const object of objects.values()) this.trackOwners(resource, object, true);
    }
  }

  static open(options: ObjectStoreOptions): ObjectStore {
    const { log, state } = ChangeLog.open(options.dir);
    return new ObjectStore(log, state, options.historyLimit);
  }

  get resourceVersion(): number {
    return this.revision;
  }

  /** The oldest version a watch can still resume from. */
  get oldestResumableVersion(): number {
    return this.oldestResumable;
  }

  get(resource: string, namespace: string, name: string): KubeObject | undefined {
    return this.objects.get(resource)?.get(objectKey(namespace, name));
  }

  /** Objects of one kind, in one namespace or all, ordered by namespace then name like etcd keys. */
  list(resource: string, namespace?: string): KubeObject[] {
    const all = [...(this.objects.get(resource)?.entries() ?? [])];
    const selected = namespace === undefined ? all : all.filter(([, o]) => o.metadata.namespace === namespace);
    return selected.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, o]) => o);
  }

  create(resource: string, object: UnversionedObject): KubeObject {
    const { namespace, name } = object.metadata;
    if (this.get(resource, namespace, name)) throw new Error(`${resource} ${namespace}/${name} exists`);
    return this.write(resource, 'ADDED', object, undefined);
  }

  /** Stores a new version; a version equal to the current one is not a change and keeps its resourceVersion. */
  replace(resource: string, object: UnversionedObject): KubeObject {
    const { namespace, name } = object.metadata;
    const current = this.get(resource, namespace, name);
    if (!current) throw new Error(`${resource} ${namespace}/${name} does not exist`);
    const candidate = { ...object, metadata: { ...object.metadata, resourceVersion: current.metadata.resourceVersion } };
    if (sameContent(candidate, current)) return current;
    return this.write(resource, 'MODIFIED', object, current);
  }

  remove(resource: string, namespace: string, name: string): KubeObject | undefined {
    const current = this.get(resource, namespace, name);
    if (!current) return undefined;
    return this.write(resource, 'DELETED', current, current);
  }

  /** The objects that name `uid` among their ownerReferences. */
  ownedBy(uid: string): ObjectReference[] {
    return [...(this.dependents.get(uid)?.values() ?? [])];
  }

  /** Events after `resourceVersion`, or undefined when some of them are no longer kept. */
  eventsAfter(resourceVersion: number): StoreEvent[] | undefined {
    if (resourceVersion < this.oldestResumable) return undefined;
    return this.history.filter((event) => event.resourceVersion > resourceVersion);
  }

  /** Forget all history, as an etcd compaction does: every older resourceVersion now gets 410. */
  compactHistory(): void {
    this.history.length = 0;
    this.oldestResumable = this.revision;
  }

  subscribe(listener: StoreListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    this.listeners.clear();
    this.log.close();
  }

  private write(
    resource: string,
    type: ChangeType,
    object: UnversionedObject,
    previous: KubeObject | undefined,
  ): KubeObject {
    this.revision += 1;
    const rv = this.revision;
    const stored: KubeObject = { ...object, metadata: { ...object.metadata, resourceVersion: String(rv) } };
    const { namespace, name } = stored.metadata;
    if (type === 'DELETED') {
      this.objects.get(resource)?.delete(objectKey(namespace, name));
      this.log.append({ rv, delete: resource, namespace, name });
    } else {
      let objects = this.objects.get(resource);
      if (!objects) {
        objects = new Map();
        this.objects.set(resource, objects);
      }
      objects.set(objectKey(namespace, name), stored);
      this.log.append({ rv, put: resource, object: stored });
    }
    if (previous) this.trackOwners(resource, previous, false);
    if (type !== 'DELETED') this.trackOwners(resource, stored, true);
    this.compactLogWhenWorthIt();
    this.record({ type, resource, object: stored, ...(previous ? { previous } : {}), resourceVersion: rv });
    return stored;
  }

  private trackOwners(resource: string, object: KubeObject, present: boolean): void {
    const { namespace, name } = object.metadata;
    const key = `${resource}/${objectKey(namespace, name)}`;
    for (const { uid } of object.metadata.ownerReferences ?? []) {
      let owned = this.dependents.get(uid);
      if (present) {
        if (!owned) this.dependents.set(uid, (owned = new Map()));
        owned.set(key, { resource, namespace, name });
      } else if (owned) {
        owned.delete(key);
        if (owned.size === 0) this.dependents.delete(uid);
      }
    }
  }

  /** Rewrites the log once it holds mostly superseded lines, so it stays near the size of the data. */
  private compactLogWhenWorthIt(): void {
    if (this.log.appended < 10_000) return;
    let live = 0;
    for (const objects of this.objects.values()) live += objects.size;
    if (this.log.appended > 2 * live) this.log.compact({ resourceVersion: this.revision, objects: this.objects });
  }

  private record(event: StoreEvent): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.shift();
      if (dropped) this.oldestResumable = dropped.resourceVersion;
    }
    // A listener that writes (directly or not) must not have its event overtake this one.
    this.pending.push(event);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.pending.shift(); next; next = this.pending.shift()) {
        for (const listener of [...this.listeners]) listener(next);
      }
    } finally {
      this.dispatching = false;
    }
  }
}
