import type { Kysely, Transaction } from 'kysely';
import type { ApiTokensTable } from './tables/api-tokens.js';
import type { DeployHooksTable } from './tables/deploy-hooks.js';
import type { DeploymentEventsTable } from './tables/deployment-events.js';
import type { DeploymentsTable } from './tables/deployments.js';
import type { OrganizationsTable } from './tables/organizations.js';
import type { ServicesTable } from './tables/services.js';

export interface Database {
  organizations: OrganizationsTable;
  api_tokens: ApiTokensTable;
  services: ServicesTable;
  deploy_hooks: DeployHooksTable;
  deployments: DeploymentsTable;
  deployment_events: DeploymentEventsTable;
}

export type Db = Kysely<Database>;
export type DbExecutor = Kysely<Database> | Transaction<Database>;
