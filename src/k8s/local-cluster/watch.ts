import type { ServerResponse } from 'node:http';
import { ApiError } from './api-errors.js';
import type { KubeObject } from './kube-object.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import type { Selector } from './selectors.js';
import type { ObjectStore, StoreEvent } from './store.js';

export interface WatchRequest {
  type: ResourceType;
  /** Undefined for a cluster-wide watch. */
  namespace?: string;
  labelSelector: Selector;
  fieldSelector: Selector;
  /** As sent: null or "0" means "start with the current objects". */
  resourceVersion: string | null;
  allowBookmarks: boolean;
  timeoutSeconds?: number;
  /** How each event's object is sent; kubectl asks for Table rows. Default: the object itself. */
  encode?: (object: KubeObject) => unknown;
}

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

/** One open watch response. */
class WatchStream {
  private ended = false;
  private stalled = false;
  private readonly timers: NodeJS.Timeout[] = [];
  private unsubscribe: () => void = () => {};

  constructor(
    private readonly response: ServerResponse,
    private readonly onEnd: (stream: WatchStream) => void,
  ) {}

  attach(unsubscribe: () => void, ...timers: NodeJS.Timeout[]): void {
    this.unsubscribe = unsubscribe;
    this.timers.push(...timers);
  }

  /** Writes events as newline-delimited JSON, several at once when replaying. */
  send(events: { type: WatchEventType; object: unknown }[]): void {
    if (this.ended || this.stalled || events.length === 0) return;
    this.response.write(events.map((event) => `${JSON.stringify(event)}\n`).join(''));
  }

  /** Keeps the connection open but never writes again, like a watch whose events are lost upstream. */
  stall(): void {
    this.stalled = true;
    this.clearTimers();
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.clearTimers();
    this.unsubscribe();
    this.onEnd(this);
    this.response.end();
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.length = 0;
  }
}

/**
 * Serves watches and keeps every open one, so faults and shutdown can reach them all. A watch
 * resuming from a resourceVersion first gets exactly the kept events it missed, then live ones,
 * filtered by its selectors the way the API server's watch cache does it: an object that stops
 * matching arrives as DELETED, one that starts matching as ADDED.
 */
export class WatchHub {
  private readonly streams = new Set<WatchStream>();
  private stallNewWatches = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly bookmarkIntervalMs: number,
  ) {}

  serve(response: ServerResponse, watch: WatchRequest): void {
    response.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private' });
    // client-node's informer start() waits for these headers: send them before any event exists.
    response.flushHeaders();
    const stream = new WatchStream(response, (s) => this.streams.delete(s));
    this.streams.add(stream);
    // The response (not the request) closes when the client goes away mid-stream.
    response.on('close', () => stream.end());
    if (this.stallNewWatches) {
      stream.stall();
      return;
    }

    const requested = watch.resourceVersion;
    let backlog: StoreEvent[] | undefined = [];
    let initial: KubeObject[] = [];
    if (requested === null || requested === '' || requested === '0') {
      initial = this.store.list(watch.type.plural, watch.namespace);
    } else {
      const from = Number(requested);
      if (!Number.isSafeInteger(from) || from < 0) {
        stream.send([errorEvent(new ApiError(400, 'BadRequest', `invalid resource version: ${requested}`))]);
        stream.end();
        return;
      }
      backlog = this.store.eventsAfter(from);
      if (!backlog) {
        stream.send([errorEvent(expired(from, this.store.oldestResumableVersion))]);
        stream.end();
        return;
      }
    }

    const matches = (object: KubeObject) => watch.labelSelector(object) && watch.fieldSelector(object);
    const encode = watch.encode ?? ((object: KubeObject) => object);
    const toEvent = (event: StoreEvent) => {
      const converted = watchEventFor(event, watch, matches);
      return converted && { type: converted.type, object: encode(converted.object) };
    };
    stream.send([
      ...initial.filter(matches).map((object) => ({ type: 'ADDED' as const, object: encode(object) })),
      ...backlog.flatMap((event) => toEvent(event) ?? []),
    ]);
    // Nothing can be written between the snapshot above and this subscription: both run in one turn.
    const unsubscribe = this.store.subscribe((event) => {
      const converted = toEvent(event);
      if (converted) stream.send([converted]);
    });

    const timers: NodeJS.Timeout[] = [];
    if (watch.allowBookmarks) {
      timers.push(setInterval(() => stream.send([this.bookmark(watch.type)]), this.bookmarkIntervalMs));
    }
    if (watch.timeoutSeconds !== undefined && watch.timeoutSeconds > 0) {
      timers.push(setTimeout(() => stream.end(), watch.timeoutSeconds * 1000));
    }
    stream.attach(unsubscribe, ...timers);
  }

  get openWatches(): number {
    return this.streams.size;
  }

  /** Ends every open watch cleanly, as an API server restart or a load balancer does. */
  dropAll(): void {
    for (const stream of [...this.streams]) stream.end();
  }

  /** Tells every open watch its position is gone (410 Expired), then ends it. */
  expireAll(): void {
    const at = this.store.resourceVersion;
    for (const stream of [...this.streams]) {
      stream.send([errorEvent(expired(at, this.store.oldestResumableVersion))]);
      stream.end();
    }
  }

  stallAll(): void {
    this.stallNewWatches = true;
    for (const stream of this.streams) stream.stall();
  }

  stopStalling(): void {
    this.stallNewWatches = false;
  }

  private bookmark(type: ResourceType): { type: 'BOOKMARK'; object: unknown } {
    return {
      type: 'BOOKMARK',
      object: {
        kind: type.kind,
        apiVersion: apiVersionOf(type),
        metadata: { resourceVersion: String(this.store.resourceVersion) },
      },
    };
  }
}

function watchEventFor(
  event: StoreEvent,
  watch: WatchRequest,
  matches: (object: KubeObject) => boolean,
): { type: WatchEventType; object: KubeObject } | undefined {
  if (event.resource !== watch.type.plural) return undefined;
  if (watch.namespace !== undefined && event.object.metadata.namespace !== watch.namespace) return undefined;
  const matchedBefore = event.previous !== undefined && matches(event.previous);
  if (event.type === 'DELETED') return matchedBefore ? { type: 'DELETED', object: event.object } : undefined;
  const matchesNow = matches(event.object);
  if (matchesNow) return { type: matchedBefore ? 'MODIFIED' : 'ADDED', object: event.object };
  return matchedBefore ? { type: 'DELETED', object: event.object } : undefined;
}

function expired(requested: number, oldest: number): ApiError {
  return new ApiError(410, 'Expired', `too old resource version: ${requested} (${oldest})`);
}

function errorEvent(error: ApiError): { type: 'ERROR'; object: unknown } {
  return { type: 'ERROR', object: error.toStatus() };
}
