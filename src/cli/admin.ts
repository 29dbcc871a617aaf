import {
  CreateApiTokenDocument,
  CreateDeployHookDocument,
  CreateServiceDocument,
  ListDeployHooksDocument,
  ListServicesDocument,
  RevokeDeployHookDocument,
  type HookSummaryFragment,
  type ListServicesQuery,
  type ServiceSummaryFragment,
} from '../graphql/generated.js';
import type { Role } from '../graphql/schema-types.js';
import { CliError, EXIT, UsageError, type ExitCode } from './exit-codes.js';
import type { GraphQLClient } from './graphql-client.js';
import { formatTime, type Output } from './output.js';

/** The largest page the API serves. */
const PAGE_SIZE = 100;

export const ROLES: readonly Role[] = ['ADMIN', 'MEMBER', 'VIEWER'];

export function parseRole(raw: string): Role {
  const role = raw.toUpperCase();
  if (!(ROLES as readonly string[]).includes(role)) throw new UsageError(`--role must be one of ${ROLES.join(', ')}`, 'token create');
  return role as Role;
}

export async function createService(
  client: GraphQLClient,
  out: Output,
  input: { name: string; repoUrl: string; defaultBranch: string | null },
): Promise<ExitCode> {
  const { createService } = await client.request(CreateServiceDocument, { input });
  const service = createService.service;
  out.record({ type: 'service', ...service });
  out.line(`service ${service.id} created: ${service.name} (${service.repoUrl}, default branch ${service.defaultBranch})`);
  return EXIT.OK;
}

export async function listServices(client: GraphQLClient, out: Output): Promise<ExitCode> {
  const services: ServiceSummaryFragment[] = [];
  let after: string | null = null;
  for (;;) {
    const result: ListServicesQuery = await client.request(ListServicesDocument, { first: PAGE_SIZE, after });
    const page = result.services;
    services.push(...page.edges.map((edge) => edge.node));
    if (!page.pageInfo.hasNextPage || !page.pageInfo.endCursor) break;
    after = page.pageInfo.endCursor;
  }
  for (const service of services) out.record({ type: 'service', ...service });
  if (services.length === 0) {
    if (!out.json) out.note('no services yet: create one with "stackblaze service create"');
    return EXIT.OK;
  }
  out.table(
    ['ID', 'NAME', 'BRANCH', 'REPOSITORY', 'CREATED'],
    services.map((s) => [s.id, s.name, s.defaultBranch, s.repoUrl, formatTime(s.createdAt)]),
  );
  return EXIT.OK;
}

export async function createHook(client: GraphQLClient, out: Output, input: { serviceId: string; name: string }): Promise<ExitCode> {
  const { createDeployHook } = await client.request(CreateDeployHookDocument, { input });
  const { hook, url } = createDeployHook;
  out.record({ type: 'hook', serviceId: input.serviceId, ...hook, url });
  // The URL alone on stdout, so `URL=$(stackblaze hook create ...)` captures exactly it.
  out.line(url);
  out.note(`hook ${hook.id} (${hook.name}) created for service ${input.serviceId}.`);
  out.note('This URL is shown once and never again: store it now as a CI secret (for example STACKBLAZE_HOOK_URL).');
  return EXIT.OK;
}

export async function listHooks(client: GraphQLClient, out: Output, serviceId: string): Promise<ExitCode> {
  const { service } = await client.request(ListDeployHooksDocument, { serviceId });
  if (!service) throw new CliError(`service ${serviceId} not found`, EXIT.FAILED);
  for (const hook of service.hooks) out.record({ type: 'hook', serviceId: service.id, ...hook });
  if (service.hooks.length === 0) {
    if (!out.json) out.note(`service ${service.id} has no hooks: create one with "stackblaze hook create"`);
    return EXIT.OK;
  }
  out.table(['ID', 'NAME', 'TOKEN', 'CREATED', 'LAST USED', 'USES', 'STATE'], service.hooks.map(hookRow));
  return EXIT.OK;
}

function hookRow(hook: HookSummaryFragment): string[] {
  return [
    hook.id,
    hook.name,
    `${hook.tokenPrefix}…`,
    formatTime(hook.createdAt),
    formatTime(hook.lastUsedAt),
    String(hook.useCount),
    hook.revokedAt ? `revoked ${formatTime(hook.revokedAt)}` : 'active',
  ];
}

export async function revokeHook(client: GraphQLClient, out: Output, id: string): Promise<ExitCode> {
  const { revokeDeployHook } = await client.request(RevokeDeployHookDocument, { id });
  const hook = revokeDeployHook.hook;
  out.record({ type: 'hook', ...hook });
  out.line(`hook ${hook.id} (${hook.name}) revoked at ${formatTime(hook.revokedAt)}`);
  return EXIT.OK;
}

export async function createToken(client: GraphQLClient, out: Output, input: { name: string; role: Role }): Promise<ExitCode> {
  const { createApiToken } = await client.request(CreateApiTokenDocument, { input });
  const { apiToken, token } = createApiToken;
  out.record({ type: 'apiToken', ...apiToken, token });
  out.line(token);
  out.note(`API token ${apiToken.id} (${apiToken.name}, ${apiToken.role}) created.`);
  out.note('This token is shown once and never again: store it now (for example as STACKBLAZE_TOKEN).');
  return EXIT.OK;
}
