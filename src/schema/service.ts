import type { Service } from '../resolvers/models.js';
import { builder, connectionComplexity } from './builder.js';
import { toConnection } from './connection.js';

export const ServiceRef = builder.objectRef<Service>('Service').implement({
  description: 'Something this organization deploys; hooks and deployments belong to it.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    repoUrl: t.exposeString('repoUrl'),
    defaultBranch: t.exposeString('defaultBranch'),
    pipelineName: t.exposeString('pipelineName', { description: 'The Tekton Pipeline its PipelineRuns reference.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  service: t.field({
    type: ServiceRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_, { id }, ctx) => ctx.services.catalog.getService(ctx.viewer, String(id)),
  }),
  services: t.connection({
    type: ServiceRef,
    complexity: connectionComplexity,
    description: 'Newest first.',
    resolve: async (_, args, ctx) => toConnection(await ctx.services.catalog.listServices(ctx.viewer, args)),
  }),
}));

const CreateServiceInput = builder.inputType('CreateServiceInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    repoUrl: t.string({ required: true, description: 'https://, ssh:// or git@host:path' }),
    defaultBranch: t.string({ required: false, description: 'Defaults to main.' }),
    pipelineName: t.string({ required: false, description: 'Defaults to stackblaze-build.' }),
  }),
});

const CreateServicePayload = builder.objectRef<{ service: Service }>('CreateServicePayload').implement({
  fields: (t) => ({ service: t.expose('service', { type: ServiceRef }) }),
});

builder.mutationField('createService', (t) =>
  t.field({
    type: CreateServicePayload,
    args: { input: t.arg({ type: CreateServiceInput, required: true }) },
    resolve: async (_, { input }, ctx) => ({ service: await ctx.services.catalog.createService(ctx.viewer, input) }),
  }),
);
