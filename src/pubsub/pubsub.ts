import { createPubSub } from 'graphql-yoga';
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

/**
 * The app's one pub/sub (graphql-yoga's), fed by PostgreSQL LISTEN on every replica:
 * `deployment:status` is keyed by deployment ID, `service:events` by service ID.
 */
export function createDeploymentPubSub() {
  return createPubSub<{
    'deployment:status': [deploymentId: string, message: StreamMessage];
    'service:events': [serviceId: string, message: StreamMessage];
  }>();
}

export type DeploymentPubSub = ReturnType<typeof createDeploymentPubSub>;
export type Topic = 'deployment:status' | 'service:events';

export function isResync(message: StreamMessage): message is Resync {
  return 'resync' in message;
}
