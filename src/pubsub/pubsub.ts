import { Repeater } from 'graphql-yoga';
import type { DeploymentEvent } from '../resolvers/models.js';

/** A committed transition as subscribers receive it. */
export interface PublishedEvent extends DeploymentEvent {
  serviceId: string;
  organizationId: string;
}

/** Tells a subscriber that notifications may have been missed: read the table to catch up. */
export interface Resync {
  resync: true;
}

export type StreamMessage = PublishedEvent | Resync;

/** The API token was revoked: streams opened with it end. */
export interface TokenRevoked {
  revoked: true;
}

/** What each topic carries. */
export interface TopicMessages {
  /** Keyed by deployment ID. */
  'deployment:status': StreamMessage;
  /** Keyed by service ID. */
  'service:events': StreamMessage;
  /** Keyed by API token ID. */
  'api-token:revoked': TokenRevoked;
}

export type Topic = keyof TopicMessages;

/** The topics that carry deployment events. */
export type EventTopic = 'deployment:status' | 'service:events';

export type StreamListener = (message: StreamMessage) => void;

/**
 * The app's one pub/sub, fed by PostgreSQL LISTEN on every replica: `deployment:status` is keyed
 * by deployment ID, `service:events` by service ID, `api-token:revoked` by API token ID.
 */
export interface DeploymentPubSub {
  /** Hands `message` to every listener of `topic`/`key`, synchronously, in the order they started listening. */
  publish<T extends Topic>(topic: T, key: string, message: TopicMessages[T]): void;
  /** Calls `listener` with each message published to `topic`/`key` until the returned function is called. */
  listen<T extends Topic>(topic: T, key: string, listener: (message: TopicMessages[T]) => void): () => void;
  /** The same messages as an async iterator (ends when `return()` is called). */
  subscribe<T extends Topic>(topic: T, key: string): AsyncIterableIterator<TopicMessages[T]>;
}

/**
 * Listeners live in a Set per `topic:key`, so that adding or removing one costs the same with ten
 * thousand subscribers of one deployment as with one (an EventTarget checks every registered
 * listener for a duplicate on each add and remove), and a publish is a plain loop over them.
 */
export function createDeploymentPubSub(): DeploymentPubSub {
  type AnyListener = (message: TopicMessages[Topic]) => void;
  const listeners = new Map<string, Set<AnyListener>>();

  const listen = <T extends Topic>(topic: T, key: string, listener: (message: TopicMessages[T]) => void) => {
    const name = `${topic}:${key}`;
    let set = listeners.get(name);
    if (!set) listeners.set(name, (set = new Set()));
    // Each registration is its own entry, so the same function may listen twice, and each
    // returned function removes exactly one of them.
    const entry: AnyListener = (message) => listener(message as TopicMessages[T]);
    set.add(entry);
    return () => {
      const current = listeners.get(name);
      if (!current?.delete(entry)) return;
      if (current.size === 0) listeners.delete(name);
    };
  };

  return {
    publish(topic, key, message) {
      const set = listeners.get(`${topic}:${key}`);
      if (!set) return;
      for (const listener of set) listener(message);
    },
    listen,
    subscribe<T extends Topic>(topic: T, key: string) {
      return new Repeater<TopicMessages[T]>(async (push, stop) => {
        const unlisten = listen(topic, key, (message) => void push(message));
        await stop;
        unlisten();
      });
    },
  };
}

export function isResync(message: StreamMessage): message is Resync {
  return 'resync' in message;
}
