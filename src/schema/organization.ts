import type { ApiToken, Organization } from '../resolvers/models.js';
import { builder } from './builder.js';

export const RoleEnum = builder.enumType('Role', { values: ['ADMIN', 'MEMBER', 'VIEWER'] as const });

export const OrganizationRef = builder.objectRef<Organization>('Organization').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

export const ApiTokenRef = builder.objectRef<ApiToken>('ApiToken').implement({
  description: 'An API token; its secret value is shown only when it is created.',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    role: t.expose('role', { type: RoleEnum }),
    tokenPrefix: t.exposeString('tokenPrefix'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true }),
  }),
});

const ViewerRef = builder.objectRef<{ tokenId: string }>('Viewer').implement({
  description: 'The caller, as its API token identifies it.',
  fields: (t) => ({
    role: t.field({ type: RoleEnum, resolve: (_, __, ctx) => ctx.viewer.role }),
    platformAdmin: t.boolean({ resolve: (_, __, ctx) => ctx.viewer.platformAdmin }),
    organization: t.field({ type: OrganizationRef, resolve: (_, __, ctx) => ctx.services.organizations.getOrganization(ctx.viewer) }),
  }),
});

builder.queryField('viewer', (t) => t.field({ type: ViewerRef, resolve: (_, __, ctx) => ({ tokenId: ctx.viewer.tokenId }) }));

const CreateOrganizationInput = builder.inputType('CreateOrganizationInput', {
  fields: (t) => ({ name: t.string({ required: true }) }),
});

const CreateOrganizationPayload = builder
  .objectRef<{ organization: Organization; adminToken: string }>('CreateOrganizationPayload')
  .implement({
    fields: (t) => ({
      organization: t.expose('organization', { type: OrganizationRef }),
      adminToken: t.exposeString('adminToken', { description: 'Shown once.' }),
    }),
  });

builder.mutationField('createOrganization', (t) =>
  t.field({
    type: CreateOrganizationPayload,
    description: 'Platform administrator only.',
    args: { input: t.arg({ type: CreateOrganizationInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.services.organizations.createOrganization(ctx.viewer, input),
  }),
);

const CreateApiTokenInput = builder.inputType('CreateApiTokenInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    role: t.field({ type: RoleEnum, required: true }),
  }),
});

const CreateApiTokenPayload = builder.objectRef<{ apiToken: ApiToken; token: string }>('CreateApiTokenPayload').implement({
  fields: (t) => ({
    apiToken: t.expose('apiToken', { type: ApiTokenRef }),
    token: t.exposeString('token', { description: 'Shown once.' }),
  }),
});

builder.mutationField('createApiToken', (t) =>
  t.field({
    type: CreateApiTokenPayload,
    args: { input: t.arg({ type: CreateApiTokenInput, required: true }) },
    resolve: (_, { input }, ctx) => ctx.services.organizations.createApiToken(ctx.viewer, input),
  }),
);

builder.queryField('apiTokens', (t) =>
  t.field({
    type: [ApiTokenRef],
    description: "ADMIN only: the organization's API tokens, newest first, revoked ones included.",
    resolve: (_, __, ctx) => ctx.services.organizations.listApiTokens(ctx.viewer),
  }),
);

const RevokeApiTokenPayload = builder.objectRef<{ apiToken: ApiToken }>('RevokeApiTokenPayload').implement({
  fields: (t) => ({ apiToken: t.expose('apiToken', { type: ApiTokenRef }) }),
});

builder.mutationField('revokeApiToken', (t) =>
  t.field({
    type: RevokeApiTokenPayload,
    description: 'ADMIN only: the token stops working on every replica at once; subscriptions opened with it end with an UNAUTHENTICATED error.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_, { id }, ctx) => ({ apiToken: await ctx.services.organizations.revokeApiToken(ctx.viewer, String(id)) }),
  }),
);
