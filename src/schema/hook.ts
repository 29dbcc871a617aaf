import type { DeployHook } from '../resolvers/models.js';
import { builder } from './builder.js';
import { ServiceRef } from './service.js';

export const DeployHookRef = builder.objectRef<DeployHook>('DeployHook').implement({
  description: 'A secret URL that deploys its service when POSTed to. The URL itself is shown only on creation.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    tokenPrefix: t.exposeString('tokenPrefix', { description: 'The first characters of the token, to recognise it.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    lastUsedIp: t.exposeString('lastUsedIp', { nullable: true }),
    useCount: t.exposeInt('useCount'),
    service: t.field({
      type: ServiceRef,
      resolve: async (hook, _, ctx) => (await ctx.services.catalog.getService(ctx.viewer, hook.serviceId))!,
    }),
  }),
});

builder.objectField(ServiceRef, 'hooks', (t) =>
  t.field({
    type: [DeployHookRef],
    description: 'Newest first, revoked ones included.',
    resolve: (service, _, ctx) => ctx.services.hooks.listHooks(ctx.viewer, service.id),
  }),
);

const CreateDeployHookInput = builder.inputType('CreateDeployHookInput', {
  fields: (t) => ({
    serviceId: t.id({ required: true }),
    name: t.string({ required: true }),
  }),
});

const CreateDeployHookPayload = builder
  .objectRef<{ hook: DeployHook; url: string; token: string }>('CreateDeployHookPayload')
  .implement({
    fields: (t) => ({
      hook: t.expose('hook', { type: DeployHookRef }),
      url: t.exposeString('url', { description: 'The hook URL. Shown once: store it as a CI secret.' }),
      token: t.exposeString('token', { description: 'The secret part of the URL. Shown once.' }),
    }),
  });

const RevokeDeployHookPayload = builder.objectRef<{ hook: DeployHook }>('RevokeDeployHookPayload').implement({
  fields: (t) => ({ hook: t.expose('hook', { type: DeployHookRef }) }),
});

builder.mutationFields((t) => ({
  createDeployHook: t.field({
    type: CreateDeployHookPayload,
    args: { input: t.arg({ type: CreateDeployHookInput, required: true }) },
    resolve: (_, { input }, ctx) =>
      ctx.services.hooks.createDeployHook(ctx.viewer, { serviceId: String(input.serviceId), name: input.name }),
  }),
  revokeDeployHook: t.field({
    type: RevokeDeployHookPayload,
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => ({ hook: await ctx.services.hooks.revokeDeployHook(ctx.viewer, String(id)) }),
  }),
}));
