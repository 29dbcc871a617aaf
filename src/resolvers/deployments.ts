import type { Db, DbExecutor } from '../db/database.js';
import { requireRole, type Viewer } from './auth.js';
import { NotFoundError } from './errors.js';
import type { HookCaller } from './hooks.js';
import { toDeployment, toDeploymentEvent, type Deployment, type DeploymentEvent } from './models.js';
import { pageQuery, planPage, toPage, type Page, type PageArgs } from './pagination.js';
import { newDeploymentId } from './tokens.js';
import { parseBranch } from './validation.js';

export interface DeploymentServiceProps {
  db: Db;
  /** Called after a new deployment is committed, to wake the dispatcher. */
  onQueued?: (deploymentId: string) => void;
}

interface NewDeployment {
  organizationId: string;
  serviceId: string;
  branch: string;
  clearCache: boolean;
  hookId?: string;
  triggeredByTokenId?: string;
  idempotencyKey?: string;
}

export class DeploymentService {
  constructor(private readonly props: DeploymentServiceProps) {}

  /**
   * A hook call: the deployment row (the dispatcher's outbox), its first event and the hook's
   * audit fields in one transaction. With an Idempotency-Key already used for this service, the
   * earlier deployment comes back instead and nothing new is queued.
   */
  async createFromHook(
    caller: HookCaller,
    input: { branch: string | null; clearCache: boolean; idempotencyKey: string | null; clientAddress: string | null },
  ): Promise<{ deployment: Deployment; created: boolean }> {
    const result = await this.props.db.transaction().execute(async (tx) => {
      const service = await tx
        .selectFrom('services')
        .select('default_branch')
        .where('id', '=', caller.serviceId)
        .executeTakeFirstOrThrow();
      await tx
        .updateTable('deploy_hooks')
        .set((eb) => ({ last_used_at: new Date(), last_used_ip: input.clientAddress, use_count: eb('use_count', '+', 1) }))
        .where('id', '=', caller.hookId)
        .execute();
      return insertDeployment(tx, {
        organizationId: caller.organizationId,
        serviceId: caller.serviceId,
        hookId: caller.hookId,
        branch: input.branch ?? service.default_branch,
        clearCache: input.clearCache,
        idempotencyKey: input.idempotencyKey ?? undefined,
      });
    });
    if (result.created) this.props.onQueued?.(result.deployment.id);
    return result;
  }

  /** A manual deploy from the dashboard, attributed to the API token. */
  async triggerDeployment(
    viewer: Viewer,
    input: { serviceId: string; branch?: string | null; clearCache?: boolean | null },
  ): Promise<Deployment> {
    requireRole(viewer, 'MEMBER');
    const branch = input.branch == null ? null : parseBranch(input.branch);
    const result = await this.props.db.transaction().execute(async (tx) => {
      const service = await tx
        .selectFrom('services')
        .select(['id', 'default_branch'])
        .where('id', '=', input.serviceId)
        .where('organization_id', '=', viewer.organizationId)
        .executeTakeFirst();
      if (!service) throw new NotFoundError('service');
      return insertDeployment(tx, {
        organizationId: viewer.organizationId,
        serviceId: service.id,
        triggeredByTokenId: viewer.tokenId,
        branch: branch ?? service.default_branch,
        clearCache: input.clearCache ?? false,
      });
    });
    this.props.onQueued?.(result.deployment.id);
    return result.deployment;
  }

  /** null when it does not exist or belongs to another organization. */
  async getDeployment(viewer: Viewer, id: string): Promise<Deployment | null> {
    const row = await this.props.db
      .selectFrom('deployments')
      .selectAll()
      .where('id', '=', id)
      .where('organization_id', '=', viewer.organizationId)
      .executeTakeFirst();
    return row ? toDeployment(row) : null;
  }

  /** For pollers that hold only the hook URL: deployments of that hook's service. */
  async getDeploymentForHook(caller: HookCaller, id: string): Promise<Deployment | null> {
    const row = await this.props.db
      .selectFrom('deployments')
      .selectAll()
      .where('id', '=', id)
      .where('service_id', '=', caller.serviceId)
      .where('organization_id', '=', caller.organizationId)
      .executeTakeFirst();
    return row ? toDeployment(row) : null;
  }

  async listDeployments(viewer: Viewer, args: PageArgs & { serviceId?: string | null }): Promise<Page<Deployment>> {
    const plan = planPage(args);
    let query = this.props.db.selectFrom('deployments').selectAll().where('organization_id', '=', viewer.organizationId);
    if (args.serviceId != null) query = query.where('service_id', '=', args.serviceId);
    const rows = await pageQuery(query, plan).execute();
    return toPage(plan, rows.map(toDeployment));
  }

  /** Events of a deployment the caller may already see (scoped through `getDeployment`). */
  async listEvents(deploymentId: string, afterSequence = 0): Promise<DeploymentEvent[]> {
    const rows = await this.props.db
      .selectFrom('deployment_events')
      .selectAll()
      .where('deployment_id', '=', deploymentId)
      .where('sequence', '>', afterSequence)
      .orderBy('sequence')
      .execute();
    return rows.map(toDeploymentEvent);
  }
}

async function insertDeployment(tx: DbExecutor, input: NewDeployment): Promise<{ deployment: Deployment; created: boolean }> {
  const id = newDeploymentId();
  const inserted = await tx
    .insertInto('deployments')
    .values({
      id,
      organization_id: input.organizationId,
      service_id: input.serviceId,
      hook_id: input.hookId ?? null,
      triggered_by_token_id: input.triggeredByTokenId ?? null,
      branch: input.branch,
      clear_cache: input.clearCache,
      status: 'QUEUED',
      last_sequence: 1,
      idempotency_key: input.idempotencyKey ?? null,
    })
    .onConflict((oc) => oc.columns(['service_id', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!inserted) {
    const existing = await tx
      .selectFrom('deployments')
      .selectAll()
      .where('service_id', '=', input.serviceId)
      .where('idempotency_key', '=', input.idempotencyKey!)
      .executeTakeFirstOrThrow();
    return { deployment: toDeployment(existing), created: false };
  }
  await tx
    .insertInto('deployment_events')
    .values({ deployment_id: id, sequence: 1, status: 'QUEUED', previous_status: null, at: inserted.created_at })
    .execute();
  return { deployment: toDeployment(inserted), created: true };
}
