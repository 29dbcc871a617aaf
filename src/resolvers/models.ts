import type { Selectable } from 'kysely';
import type { Database } from '../db/database.js';
import type { Role } from '../db/tables/api-tokens.js';
import type { DeploymentStatus } from '../db/tables/deployments.js';

// The one place where snake_case rows become the camelCase objects the API layers see.

export interface Organization {
  id: string;
  name: string;
  createdAt: Date;
}

export interface ApiToken {
  id: string;
  organizationId: string;
  name: string;
  role: Role;
  tokenPrefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export interface Service {
  id: string;
  organizationId: string;
  name: string;
  slug: string;
  repoUrl: string;
  defaultBranch: string;
  pipelineName: string;
  createdAt: Date;
}

export interface DeployHook {
  id: string;
  organizationId: string;
  serviceId: string;
  name: string;
  tokenPrefix: string;
  createdByTokenId: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  useCount: number;
}

export interface Deployment {
  id: string;
  organizationId: string;
  serviceId: string;
  hookId: string | null;
  triggeredByTokenId: string | null;
  branch: string;
  clearCache: boolean;
  status: DeploymentStatus;
  reason: string | null;
  message: string | null;
  lastSequence: number;
  createdAt: Date;
  updatedAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface DeploymentEvent {
  deploymentId: string;
  sequence: number;
  status: DeploymentStatus;
  previousStatus: DeploymentStatus | null;
  reason: string | null;
  message: string | null;
  at: Date;
}

type Row<T extends keyof Database> = Selectable<Database[T]>;

export const toOrganization = (r: Row<'organizations'>): Organization => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at,
});

export const toApiToken = (r: Row<'api_tokens'>): ApiToken => ({
  id: r.id,
  organizationId: r.organization_id,
  name: r.name,
  role: r.role,
  tokenPrefix: r.token_prefix,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export const toService = (r: Row<'services'>): Service => ({
  id: r.id,
  organizationId: r.organization_id,
  name: r.name,
  slug: r.slug,
  repoUrl: r.repo_url,
  defaultBranch: r.default_branch,
  pipelineName: r.pipeline_name,
  createdAt: r.created_at,
});

export const toDeployHook = (r: Row<'deploy_hooks'>): DeployHook => ({
  id: r.id,
  organizationId: r.organization_id,
  serviceId: r.service_id,
  name: r.name,
  tokenPrefix: r.token_prefix,
  createdByTokenId: r.created_by_token_id,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
  lastUsedIp: r.last_used_ip,
  useCount: r.use_count,
});

export const toDeployment = (r: Row<'deployments'>): Deployment => ({
  id: r.id,
  organizationId: r.organization_id,
  serviceId: r.service_id,
  hookId: r.hook_id,
  triggeredByTokenId: r.triggered_by_token_id,
  branch: r.branch,
  clearCache: r.clear_cache,
  status: r.status,
  reason: r.reason,
  message: r.message,
  lastSequence: r.last_sequence,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

export const toDeploymentEvent = (r: Row<'deployment_events'>): DeploymentEvent => ({
  deploymentId: r.deployment_id,
  sequence: r.sequence,
  status: r.status,
  previousStatus: r.previous_status,
  reason: r.reason,
  message: r.message,
  at: r.at,
});
