import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { DeploymentService } from '../resolvers/deployments.js';
import { describeKubeError, isTransient, type PipelineRunClient } from './kube-client.js';
import { buildPipelineRun } from './pipeline-run.js';
import { withTimeout } from './timeout.js';

export interface DispatcherProps {
  db: Db;
  deployments: DeploymentService;
  pipelineRuns: PipelineRunClient;
  namespace: string;
  imageRegistry: string;
  /** The ServiceAccount build TaskRuns run as; null leaves Tekton's default. */
  serviceAccount?: string | null;
  log: Logger;
  /** The safety net when no wake-up arrives (another replica's hook call, a crash before dispatch). */
  pollIntervalMs?: number;
  /** How long transient Kubernetes failures are retried before the deployment fails. */
  giveUpAfterMs?: number;
  /** One create is abandoned (and retried later) after this long. */
  createTimeoutMs?: number;
  batchSize?: number;
}

/**
 * Turns queued deployments into PipelineRuns. The deployments table is the outbox: rows with no
 * `dispatched_at` are claimed with `FOR UPDATE SKIP LOCKED`, so any number of replicas share the
 * work and none creates a run another is creating. The PipelineRun is named after the deployment,
 * so a create repeated after a crash answers 409, which counts as done.
 */
export class DeploymentDispatcher {
  private readonly pollIntervalMs: number;
  private readonly giveUpAfterMs: number;
  private readonly createTimeoutMs: number;
  private readonly batchSize: number;
  private running = false;
  private wakeRequested = false;
  private loop: Promise<void> | null = null;
  private sleeper: { timer: NodeJS.Timeout; resolve: () => void } | null = null;
  /** PipelineRun creates that failed and were scheduled again. */
  retries = 0;

  constructor(private readonly props: DispatcherProps) {
    this.pollIntervalMs = props.pollIntervalMs ?? 1_000;
    this.giveUpAfterMs = props.giveUpAfterMs ?? 10 * 60_000;
    this.createTimeoutMs = props.createTimeoutMs ?? 10_000;
    this.batchSize = props.batchSize ?? 16;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Coalesced: any number of calls while a pass runs cause one more pass. */
  wake(): void {
    this.wakeRequested = true;
    this.sleeper?.resolve();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.sleeper?.resolve();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (this.running) {
      this.wakeRequested = false;
      let claimed = 0;
      try {
        claimed = await this.dispatchBatch();
      } catch (error) {
        this.props.log.warn({ err: error }, 'dispatch pass failed; retrying');
      }
      // A full batch means more may be waiting: go again at once.
      if (claimed < this.batchSize && !this.wakeRequested) await this.sleep(this.pollIntervalMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleeper = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleeper = { timer, resolve: done };
    });
  }

  /** One pass: claim due rows, create their PipelineRuns, record the outcome. Returns how many were claimed. */
  async dispatchBatch(): Promise<number> {
    return this.props.db.transaction().execute(async (tx) => {
      const rows = await tx
        .selectFrom('deployments as d')
        .innerJoin('services as s', 's.id', 'd.service_id')
        .select([
          'd.id',
          'd.organization_id',
          'd.service_id',
          'd.branch',
          'd.clear_cache',
          'd.created_at',
          'd.dispatch_attempts',
          's.slug',
          's.repo_url',
          's.pipeline_name',
        ])
        .where('d.dispatched_at', 'is', null)
        .where('d.status', '=', 'QUEUED')
        .where('d.next_dispatch_at', '<=', sql<Date>`now()`)
        .orderBy('d.next_dispatch_at')
        .limit(this.batchSize)
        .forUpdate('d')
        .skipLocked()
        .execute();

      const outcomes = await Promise.all(
        rows.map(async (row) => {
          const manifest = buildPipelineRun({
            deploymentId: row.id,
            organizationId: row.organization_id,
            serviceId: row.service_id,
            serviceSlug: row.slug,
            repoUrl: row.repo_url,
            branch: row.branch,
            clearCache: row.clear_cache,
            pipelineName: row.pipeline_name,
            namespace: this.props.namespace,
            imageRegistry: this.props.imageRegistry,
            serviceAccount: this.props.serviceAccount ?? null,
          });
          try {
            await withTimeout(this.props.pipelineRuns.create(manifest), this.createTimeoutMs);
            return { row, error: null };
          } catch (error) {
            return { row, error };
          }
        }),
      );

      // Every run created in this pass is recorded in one statement (the rows are locked by this
      // transaction, so the attempt count read with them is current).
      const created = outcomes.filter((o) => o.error === null).map((o) => o.row.id);
      if (created.length > 0) {
        await tx
          .updateTable('deployments')
          .set({ dispatched_at: sql`now()`, dispatch_attempts: sql`dispatch_attempts + 1` })
          .where('id', 'in', created)
          .execute();
      }
      const failed = [];
      for (const { row, error } of outcomes) {
        if (error === null) continue;
        const attempts = row.dispatch_attempts + 1;
        const expired = Date.now() - row.created_at.getTime() >= this.giveUpAfterMs;
        if (!isTransient(error) || expired) {
          const why = describeKubeError(error);
          const message = isTransient(error)
            ? `Could not create the PipelineRun after ${attempts} attempts over ${Math.round(this.giveUpAfterMs / 1000)} s: ${why}`
            : `The PipelineRun was refused: ${why}`;
          await tx.updateTable('deployments').set({ dispatch_attempts: attempts }).where('id', '=', row.id).execute();
          const event = await this.props.deployments.recordTransition(row.id, { status: 'FAILED', reason: 'DispatchFailed', message }, {}, tx);
          if (event) failed.push(event);
          this.props.log.warn({ deploymentId: row.id, attempts, reason: why }, 'deployment failed: PipelineRun not created');
        } else {
          const delayMs = backoffMs(attempts);
          await tx
            .updateTable('deployments')
            .set({ dispatch_attempts: attempts, next_dispatch_at: sql`now() + make_interval(secs => ${delayMs / 1000})` })
            .where('id', '=', row.id)
            .execute();
          this.retries += 1;
          this.props.log.info({ deploymentId: row.id, attempts, delayMs, reason: describeKubeError(error) }, 'PipelineRun create failed; will retry');
        }
      }
      return { count: rows.length, failed };
    }).then(({ count, failed }) => {
      for (const event of failed) this.props.deployments.notifyCommitted(event);
      return count;
    });
  }
}

/** 0.5 s doubling to 10 s (so work resumes soon after an outage), with jitter so replicas do not retry in step. */
function backoffMs(attempts: number): number {
  const base = Math.min(10_000, 500 * 2 ** Math.min(attempts - 1, 10));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}
