import { sql } from 'kysely';
import type { Db, DbExecutor } from '../db/database.js';
import { DEPLOYMENT_STATUSES, isTerminal, type DeploymentStatus } from '../db/tables/deployments.js';
import { describeKubeError, isTransient, type PipelineRunClient } from '../k8s/kube-client.js';
import { readBuildLogs } from '../k8s/logs.js';
import type { MappedStatus } from '../k8s/status-mapping.js';
import { requireRole, type Viewer } from './auth.js';
import { DomainError, NotFoundError, UnavailableError } from './errors.js';
import type { HookCaller } from './hooks.js';
import type { Selectable } from 'kysely';
import type { Database } from '../db/database.js';
import { toDeployment, toDeploymentEvent, type Deployment, type DeploymentEvent } from './models.js';
import { pageQuery, planPage, toPage, type Page, type PageArgs } from './pagination.js';
import { newDeploymentId } from './tokens.js';
import { parseBranch } from './validation.js';

export interface DeploymentServiceProps {
  db: Db;
  pipelineRuns: PipelineRunClient;
  /** Called after a new deployment is committed, to wake the dispatcher. */
  onQueued?: (deploymentId: string) => void;
  /** Called after each committed transition (a new deployment's QUEUED event included), to tell subscribers. */
  onTransition?: (event: DeploymentEvent) => void;
}

/**
 * Statuses only move forward: QUEUED, then RUNNING, then CANCELLING, then a terminal one. A late
 * or repeated observation of an earlier state changes nothing.
 */
const RANK: Record<DeploymentStatus, number> = {
  QUEUED: 0,
  RUNNING: 1,
  CANCELLING: 2,
  SUCCEEDED: 3,
  FAILED: 3,
  CANCELLED: 3,
  TIMED_OUT: 3,
};

function statusesBefore(status: DeploymentStatus): DeploymentStatus[] {
  return DEPLOYMENT_STATUSES.filter((s) => RANK[s] < RANK[status]);
}

export class DeploymentService {
  constructor(private readonly props: DeploymentServiceProps) {}

  /**
   * A hook call: the deployment row (the dispatcher's outbox), its first event and the hook's
   * audit fields, in one statement. With an Idempotency-Key already used for this service, the
   * earlier deployment comes back instead and nothing new is queued.
   */
  async createFromHook(
    caller: HookCaller,
    input: { branch: string | null; clearCache: boolean; idempotencyKey: string | null; clientAddress: string | null },
  ): Promise<{ deployment: Deployment; created: boolean }> {
    const result = await queueDeployment(this.props.db, {
      organizationId: caller.organizationId,
      serviceId: caller.serviceId,
      hook: { id: caller.hookId, clientAddress: input.clientAddress },
      branch: input.branch,
      clearCache: input.clearCache,
      idempotencyKey: input.idempotencyKey,
    });
    // The hook was authenticated a moment ago; its service can only have vanished since.
    if (!result) throw new NotFoundError('service');
    if (result.created) this.queued(result.deployment);
    return result;
  }

  /** A manual deploy from the dashboard, attributed to the API token. */
  async triggerDeployment(
    viewer: Viewer,
    input: { serviceId: string; branch?: string | null; clearCache?: boolean | null },
  ): Promise<Deployment> {
    requireRole(viewer, 'MEMBER');
    const branch = input.branch == null ? null : parseBranch(input.branch);
    const result = await queueDeployment(this.props.db, {
      organizationId: viewer.organizationId,
      serviceId: input.serviceId,
      triggeredByTokenId: viewer.tokenId,
      branch,
      clearCache: input.clearCache ?? false,
      idempotencyKey: null,
    });
    if (!result) throw new NotFoundError('service');
    this.queued(result.deployment);
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

  /**
   * Moves a deployment to `next` if that is a step forward, appending its event with the next
   * sequence, in one statement: replicas observing the same PipelineRun write each transition
   * once. Returns the event, or null when nothing changed.
   */
  async recordTransition(
    id: string,
    next: MappedStatus,
    times: { startedAt?: Date | null; finishedAt?: Date | null } = {},
    executor: DbExecutor = this.props.db,
  ): Promise<DeploymentEvent | null> {
    const before = statusesBefore(next.status);
    // Nothing comes before QUEUED, the status every deployment is created with: observing it (a
    // PipelineRun just created, or pending) can never be a transition, so it costs no statement.
    if (before.length === 0) return null;
    const terminal = isTerminal(next.status);
    const result = await sql<Selectable<Database['deployment_events']>>`
      with current as (
        select id, status from deployments where id = ${id} for update
      ), updated as (
        update deployments d
        set status = ${next.status},
            reason = ${next.reason},
            message = ${next.message},
            last_sequence = d.last_sequence + 1,
            updated_at = now(),
            started_at = case when ${next.status} <> 'QUEUED' then coalesce(d.started_at, ${times.startedAt ?? null}::timestamptz, now()) else d.started_at end,
            finished_at = case when ${terminal} then coalesce(${times.finishedAt ?? null}::timestamptz, now()) else d.finished_at end
        from current c
        where d.id = c.id and c.status = any(${before}::text[])
        returning d.id, d.last_sequence, c.status as previous_status, d.updated_at
      )
      insert into deployment_events (deployment_id, sequence, status, previous_status, reason, message, at)
      select id, last_sequence, ${next.status}, previous_status, ${next.reason}, ${next.message}, updated_at from updated
      returning *`.execute(executor);
    const row = result.rows[0];
    if (!row) return null;
    const event = toDeploymentEvent(row);
    if (executor === this.props.db) this.notifyCommitted(event);
    return event;
  }

  /**
   * A new deployment is committed: wake the dispatcher, and announce its QUEUED event like any
   * transition (after commit, coalesced with others of the same tick), so that subscribers to the
   * service hear of it on every replica without the insert itself notifying.
   */
  private queued(deployment: Deployment): void {
    this.props.onQueued?.(deployment.id);
    this.notifyCommitted({
      deploymentId: deployment.id,
      sequence: 1,
      status: 'QUEUED',
      previousStatus: null,
      reason: null,
      message: null,
      at: deployment.createdAt,
    });
  }

  /** For transitions recorded inside a caller's transaction: call once it has committed. */
  notifyCommitted(event: DeploymentEvent): void {
    this.props.onTransition?.(event);
  }

  /**
   * Not yet dispatched: cancelled at once, and no PipelineRun is ever created. Dispatched: asks
   * Tekton to cancel (CANCELLING), and the watch reports CANCELLED when Tekton does.
   */
  async cancelDeployment(viewer: Viewer, id: string): Promise<Deployment> {
    requireRole(viewer, 'MEMBER');
    const current = await this.getDeployment(viewer, id);
    if (!current) throw new NotFoundError('deployment');
    if (isTerminal(current.status)) return current;

    const cancelledEarly = await this.props.db.transaction().execute(async (tx) => {
      // Waits for a dispatcher that holds the row, so the two never both act.
      const row = await tx.selectFrom('deployments').select(['dispatched_at']).where('id', '=', id).forUpdate().executeTakeFirstOrThrow();
      if (row.dispatched_at !== null) return null;
      return this.recordTransition(id, { status: 'CANCELLED', reason: 'Cancelled', message: 'Cancelled before its PipelineRun was created.' }, {}, tx);
    });
    if (cancelledEarly) {
      this.notifyCommitted(cancelledEarly);
    } else {
      try {
        const exists = await this.props.pipelineRuns.cancel(id);
        if (exists) await this.recordTransition(id, { status: 'CANCELLING', reason: 'CancelRequested', message: 'Cancellation requested.' });
      } catch (error) {
        if (isTransient(error)) throw new UnavailableError(`could not reach Kubernetes to cancel: ${describeKubeError(error)}`);
        throw error;
      }
    }
    return (await this.getDeployment(viewer, id))!;
  }

  /** Every step's log in pipeline order, each line prefixed `[task/step] `; null before any pod exists. */
  async getLogs(deployment: Deployment): Promise<string | null> {
    try {
      return await readBuildLogs(this.props.pipelineRuns, deployment.id);
    } catch (error) {
      if (isTransient(error)) throw new UnavailableError(`could not read build logs: ${describeKubeError(error)}`);
      throw error;
    }
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

interface NewDeployment {
  organizationId: string;
  serviceId: string;
  /** null: the service's default branch. */
  branch: string | null;
  clearCache: boolean;
  hook?: { id: string; clientAddress: string | null };
  triggeredByTokenId?: string;
  idempotencyKey: string | null;
}

/**
 * Queues a deployment in ONE statement (one round trip, atomic without a transaction): the row,
 * its first event and, for a hook call, the hook's audit fields. Null when the service does not
 * exist in the organization. A conflicting Idempotency-Key returns the earlier deployment.
 */
async function queueDeployment(db: Db, input: NewDeployment): Promise<{ deployment: Deployment; created: boolean } | null> {
  const hookId = input.hook?.id ?? null;
  const { rows } = await sql<Selectable<Database['deployments']>>`
    with service as (
      select id, default_branch from services where id = ${input.serviceId} and organization_id = ${input.organizationId}
    ), hook_use as (
      update deploy_hooks
      set last_used_at = now(), last_used_ip = ${input.hook?.clientAddress ?? null}, use_count = use_count + 1
      where id = ${hookId} and exists (select 1 from service)
    ), queued as (
      insert into deployments (id, organization_id, service_id, hook_id, triggered_by_token_id, branch, clear_cache, status, last_sequence, idempotency_key)
      select ${newDeploymentId()}, ${input.organizationId}, service.id, ${hookId}, ${input.triggeredByTokenId ?? null},
             coalesce(${input.branch}, service.default_branch), ${input.clearCache}, 'QUEUED', 1, ${input.idempotencyKey}
      from service
      on conflict (service_id, idempotency_key) where idempotency_key is not null do nothing
      returning *
    ), first_event as (
      insert into deployment_events (deployment_id, sequence, status, previous_status, at)
      select id, 1, 'QUEUED', null, created_at from queued
    )
    select * from queued`.execute(db);
  if (rows[0]) return { deployment: toDeployment(rows[0]), created: true };
  if (input.idempotencyKey === null) return null;
  const existing: Selectable<Database['deployments']> | undefined = await db
    .selectFrom('deployments')
    .selectAll()
    .where('service_id', '=', input.serviceId)
    .where('organization_id', '=', input.organizationId)
    .where('idempotency_key', '=', input.idempotencyKey)
    .executeTakeFirst();
  if (!existing) return null;
  // A key stands for one request: reusing it for a different one is a client bug, not a retry.
  if ((input.branch !== null && input.branch !== existing.branch) || input.clearCache !== existing.clear_cache) {
    throw new DomainError(
      'UNPROCESSABLE',
      `this Idempotency-Key was already used for a deployment of branch "${existing.branch}" with clear_cache=${existing.clear_cache}`,
      { field: 'Idempotency-Key' },
    );
  }
  return { deployment: toDeployment(existing), created: false };
}
