import type { PublishedEvent } from '../pubsub/pubsub.js';
import { isStreamEnded, type StreamItem } from '../resolvers/deployment-streams.js';
import { builder } from './builder.js';
import { DeploymentRef, DeploymentStatusEnum } from './deployment.js';

const DeploymentStatusEventRef = builder.objectRef<PublishedEvent>('DeploymentStatusEvent').implement({
  description: 'A deployment status transition, as it is committed; sequences count from 1 per deployment.',
  fields: (t) => ({
    deploymentId: t.exposeID('deploymentId'),
    sequence: t.exposeInt('sequence'),
    status: t.expose('status', { type: DeploymentStatusEnum }),
    previousStatus: t.expose('previousStatus', { type: DeploymentStatusEnum, nullable: true }),
    reason: t.exposeString('reason', { nullable: true }),
    message: t.exposeString('message', { nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
    deployment: t.field({
      type: DeploymentRef,
      description: 'The deployment as it is now (read when this event is delivered).',
      resolve: async (event, _, ctx) => (await ctx.services.deployments.getDeployment(ctx.viewer, event.deploymentId))!,
    }),
  }),
});

builder.subscriptionType({});

/** An event as it is; a stream the server cuts short ends with its reason as the last result's error. */
function eventOrEnd(item: StreamItem): PublishedEvent {
  if (isStreamEnded(item)) throw item.ended;
  return item;
}

builder.subscriptionFields((t) => ({
  deploymentStatusChanged: t.field({
    type: DeploymentStatusEventRef,
    description:
      'The current state first (or, with afterSequence, every event after it), then each change; completes after the terminal status.',
    args: {
      id: t.arg.id({ required: true }),
      afterSequence: t.arg.int({ required: false }),
    },
    subscribe: (_, { id, afterSequence }, ctx) => ctx.services.streams.followDeployment({ viewer: ctx.viewer }, String(id), afterSequence),
    resolve: eventOrEnd,
  }),
  deploymentEvents: t.field({
    type: DeploymentStatusEventRef,
    description: "Every deployment of a service: the current state of those in progress, then each change. Does not complete.",
    args: { serviceId: t.arg.id({ required: true }) },
    subscribe: (_, { serviceId }, ctx) => ctx.services.streams.followService(ctx.viewer, String(serviceId)),
    resolve: eventOrEnd,
  }),
}));
