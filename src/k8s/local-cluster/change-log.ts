import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { claimOwnerLock } from '../../owner-lock.js';
import type { KubeObject } from './kube-object.js';

/** One line of the log: an object written or removed at a resourceVersion. */
export type ChangeRecord =
  | { rv: number; put: string; object: KubeObject }
  | { rv: number; delete: string; namespace: string; name: string };

/** What a replayed log holds: objects by resource, then by `namespace/name`. */
export interface StoredState {
  resourceVersion: number;
  objects: Map<string, Map<string, KubeObject>>;
}

export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * The cluster's stand-in for etcd: an append-only JSON-lines file of changes, so that a write
 * costs one small append however many objects exist. It is compacted to one line per live
 * object when the cluster starts, and again whenever it has grown well past that. Appends are
 * not fsynced (like a dev cluster, a machine crash may lose the last writes); a process crash
 * loses nothing because each append is a direct write(2), and a line torn by a crash
 * mid-write is dropped on the next start.
 */
export class ChangeLog {
  private fd: number | undefined;
  private appendedSinceCompaction = 0;

  private constructor(
    private readonly path: string,
    private readonly unlock: () => void,
  ) {}

  static open(dir: string): { log: ChangeLog; state: StoredState } {
    mkdirSync(dir, { recursive: true });
    const unlock = lockDirectory(dir);
    try {
      const path = join(dir, 'changes.jsonl');
      const state = existsSync(path) ? replay(readFileSync(path, 'utf8'), path) : emptyState();
      const log = new ChangeLog(path, unlock);
      log.compact(state);
      return { log, state };
    } catch (error) {
      unlock();
      throw error;
    }
  }

  /** Records appended since the last compaction, for deciding when the next one pays off. */
  get appended(): number {
    return this.appendedSinceCompaction;
  }

  append(record: ChangeRecord): void {
    if (this.fd === undefined) throw new Error('the change log is closed');
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
    this.appendedSinceCompaction += 1;
  }

  /** Replaces the log with a snapshot of `state`; the rename makes the switch atomic. */
  compact(state: StoredState): void {
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, snapshotLines(state));
    renameSync(temporary, this.path);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
    this.appendedSinceCompaction = 0;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.unlock();
  }
}

/**
 * Two clusters appending to one log would corrupt it (say, `npm run cluster` and an app that
 * starts its own because KUBECONFIG was not set), so the directory has one owner.
 */
function lockDirectory(dir: string): () => void {
  return claimOwnerLock(join(dir, 'owner.pid'), `${dir} (the local cluster's data)`);
}

function emptyState(): StoredState {
  return { resourceVersion: 0, objects: new Map() };
}

function replay(text: string, path: string): StoredState {
  const state = emptyState();
  const lines = text.split('\n');
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    let record: ChangeRecord | { rv: number };
    try {
      record = JSON.parse(line) as ChangeRecord | { rv: number };
    } catch (error) {
      // Only the final line can be torn (it has no newline after it); anything else is damage.
      if (index === lines.length - 1) return;
      throw new Error(`${path}:${index + 1} is not valid JSON`, { cause: error });
    }
    state.resourceVersion = Math.max(state.resourceVersion, record.rv);
    if ('put' in record) {
      const { namespace, name } = record.object.metadata;
      bucket(state, record.put).set(objectKey(namespace, name), record.object);
    } else if ('delete' in record) {
      bucket(state, record.delete).delete(objectKey(record.namespace, record.name));
    }
  });
  return state;
}

function bucket(state: StoredState, resource: string): Map<string, KubeObject> {
  let objects = state.objects.get(resource);
  if (!objects) {
    objects = new Map();
    state.objects.set(resource, objects);
  }
  return objects;
}

/** The compacted log: the resourceVersion counter first (deletes advance it too), then each object. */
function snapshotLines(state: StoredState): string {
  const lines = [JSON.stringify({ rv: state.resourceVersion })];
  for (const [resource, objects] of state.objects) {
    for (const object of objects.values()) {
      lines.push(JSON.stringify({ rv: Number(object.metadata.resourceVersion), put: resource, object }));
    }
  }
  return `${lines.join('\n')}\n`;
}
