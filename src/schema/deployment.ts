import { DEPLOYMENT_STATUSES } from '../db/tables/deployments.js';
import type { Deployment, DeploymentEvent } from '../resolvers/models.js';
import { builder, connectionComplexity } from './builder.js';
import { toConnection } from './connection.js';
import { DeployHookRef } from './hook.js';
import { ApiTokenRef } from './organization.js';
import { ServiceRef } from './service.js';

export const DeploymentStatusEnum = builder.enumType('DeploymentStatus', {
  description: 'SUCCEEDED, FAILED, CANCELLED and TIMED_OUT are terminal.',
  values: DEPLOYMENT_STATUSES,
});

export const DeploymentEventRef = builder.objectRef<DeploymentEvent>('DeploymentEvent').implement({
  description: 'One status transition; sequences count from 1 per deployment.',
  fields: (t) => ({
    sequence: t.exposeInt('sequence'),
    status: t.expose('status', { type: DeploymentStatusEnum }),
    previousStatus: t.expose('previousStatus', { type: DeploymentStatusEnum, nullable: true }),
    reason: t.exposeString('reason', { nullable: true }),
    message: t.exposeString('message', { nullable: true }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

export const DeploymentRef = builder.objectRef<Deployment>('Deployment').implement({
  description: 'One build and rollout of a service; its ID is also its PipelineRun name.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.expose('status', { type: DeploymentStatusEnum }),
    reason: t.exposeString('reason', { nullable: true }),
    message: t.exposeString('message', { nullable: true }),
    branch: t.exposeString('branch'),
    clearCache: t.exposeBoolean('clearCache'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
    service: t.field({
      type: ServiceRef,
      resolve: async (d, _, ctx) => (await ctx.services.catalog.getService(ctx.viewer, d.serviceId))!,
    }),
    hook: t.field({
      type: DeployHookRef,
      nullable: true,
      description: 'The hook that triggered it; null for a deployment triggered through the API.',
      resolve: (d, _, ctx) => (d.hookId ? ctx.services.hooks.getHook(ctx.viewer, d.hookId) : null),
    }),
    triggeredBy: t.field({
      type: ApiTokenRef,
      nullable: true,
      description: 'The API token that triggered it; null for a hook call.',
      resolve: (d, _, ctx) => (d.triggeredByTokenId ? ctx.services.organizations.getApiToken(ctx.viewer, d.triggeredByTokenId) : null),
    }),
    events: t.field({
      type: [DeploymentEventRef],
      resolve: (d, _, ctx) => ctx.services.deployments.listEvents(d.id),
    }),
    logs: t.string({
      nullable: true,
      // Each one reads pods and logs from Kubernetes.
      complexity: 25,
      description: "Every build step's log in pipeline order, each line prefixed `[task/step] `; null before the build has started.",
      resolve: (d, _, ctx) => ctx.services.deployments.getLogs(d),
    }),
  }),
});

builder.objectField(ServiceRef, 'deployments', (t) =>
  t.connection({
    type: DeploymentRef,
    description: 'Newest first.',
    complexity: connectionComplexity,
    resolve: async (service, args, ctx) =>
      toConnection(await ctx.services.deployments.listDeployments(ctx.viewer, { ...args, serviceId: service.id })),
  }),
);

builder.queryFields((t) => ({
  deployment: t.field({
    type: DeploymentRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => ctx.services.deployments.getDeployment(ctx.viewer, String(id)),
  }),
  deployments: t.connection({
    type: DeploymentRef,
    complexity: connectionComplexity,
    description: "Newest first; all of the organization's deployments, or one service's.",
    args: { serviceId: t.arg.id({ required: false }) },
    resolve: async (_, args, ctx) =>
      toConnection(
        await ctx.services.deployments.listDeployments(ctx.viewer, {
          ...args,
          serviceId: args.serviceId == null ? null : String(args.serviceId),
        }),
      ),
  }),
}));

const TriggerDeploymentInput = builder.inputType('TriggerDeploymentInput', {
  fields: (t) => ({
    serviceId: t.id({ required: true }),
    branch: t.string({ required: false, description: "Defaults to the service's default branch." }),
    clearCache: t.boolean({ required: false, defaultValue: false }),
  }),
});

export const DeploymentPayload = builder.objectRef<{ deployment: Deployment }>('DeploymentPayload').implement({
  fields: (t) => ({ deployment: t.expose('deployment', { type: DeploymentRef }) }),
});

builder.mutationFields((t) => ({
  triggerDeployment: t.field({
    type: DeploymentPayload,
    args: { input: t.arg({ type: TriggerDeploymentInput, required: true }) },
    resolve: async (_, { input }, ctx) => ({
      deployment: await ctx.services.deployments.triggerDeployment(ctx.viewer, { ...input, serviceId: String(input.serviceId) }),
    }),
  }),
  cancelDeployment: t.field({
    type: DeploymentPayload,
    description: 'Not yet started: cancelled at once. Running: CANCELLING until Tekton reports CANCELLED. Finished: unchanged.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => ({ deployment: await ctx.services.deployments.cancelDeployment(ctx.viewer, String(id)) }),
  }),
}));
