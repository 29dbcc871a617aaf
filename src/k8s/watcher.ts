import { CustomObjectsApi, KubeConfig, ListWatch, Watch, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { DeploymentService } from '../resolvers/deployments.js';
import type { PipelineRunClient } from './kube-client.js';
import { withTimeout } from './timeout.js';
import {
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  PIPELINE_RUN_GROUP,
  PIPELINE_RUN_PLURAL,
  PIPELINE_RUN_VERSION,
} from './pipeline-run.js';
import { DELETED_BEFORE_FINISHING, mapPipelineRunStatus, type PipelineRunLike } from './status-mapping.js';

type PipelineRun = KubernetesObject & PipelineRunLike;

export interface PipelineRunWatcherProps {
  kubeConfig: KubeConfig;
  namespace: string;
  db: Db;
  deployments: DeploymentService;
  pipelineRuns: PipelineRunClient;
  log: Logger;
  /** The server ends each watch after this long and it is resumed from the last version seen. */
  watchTimeoutSeconds?: number;
  /** No line (event or bookmark) for this long means the watch stalled: it is restarted. */
  silenceTimeoutMs?: number;
  /** A list or watch that has not answered within this long is abandoned and retried. */
  connectTimeoutMs?: number;
  maxBackoffMs?: number;
}

/** client-node's Watch, reporting every line it receives (bookmarks included) to the watchdog. */
class ObservedWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly onActivity: () => void,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: any, watchObj?: any) => void,
    done: (err: any) => void,
  ): Promise<AbortController> {
    // client-node calls `done` before returning when the watch could not be opened (a 503, a
    // refused connection): that is no sign of life, and must not reset the watchdog or the backoff.
    let endedBeforeOpen = false;
    let opened = false;
    const controller = await super.watch(path, queryParams, (phase, obj, raw) => {
      this.onActivity();
      callback(phase, obj, raw);
    }, (err) => {
      if (!opened) endedBeforeOpen = true;
      done(err);
    });
    opened = true;
    if (!endedBeforeOpen) this.onActivity();
    return controller;
  }
}

/**
 * Follows this app's PipelineRuns with client-node's informer (list, then watch from that
 * version) and writes each status change to its deployment. The informer itself neither times
 * out nor restarts after an error; this class does both: restart with backoff after an error, a
 * relist after 410 (client-node clears its version), a watchdog for a watch that went silent,
 * and a time limit on each connect. Handling is level-triggered: each object version is mapped
 * and applied in order per deployment, and the conditional update makes repeats harmless.
 */
export class PipelineRunWatcher {
  private readonly informer: ListWatch<PipelineRun>;
  private readonly silenceTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxBackoffMs: number;
  private lastActivity = Date.now();
  private watchdog: NodeJS.Timeout | null = null;
  private stopped = true;
  private restarting = false;
  private failures = 0;
  /** Bumped by every restart, so a connect attempt that a restart overtook does not report success. */
  private generation = 0;
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  /** Last resourceVersion applied per PipelineRun name: each version is applied once. */
  private readonly applied = new Map<string, string>();
  /** Per-deployment FIFO of observations still to write, so transitions keep their order. */
  private readonly queues = new Map<string, Array<PipelineRun | 'deleted'>>();
  private readonly draining = new Set<Promise<void>>();
  /**
   * Writes in flight at once, across deployments. A (re)list hands over every PipelineRun at once
   * (ten thousand after a restart): unbounded, their writes would queue on the pool until its
   * connection timeout and fail in thousands; bounded, they go through at the database's pace.
   */
  private readonly writes = pLimit(8);
  /** Times the watch was restarted after an error or a stall. */
  restarts = 0;

  constructor(private readonly props: PipelineRunWatcherProps) {
    // The server ends every watch after `timeoutSeconds` (the informer then resumes from the last
    // version, without a relist), and sends bookmarks meanwhile: a watch silent for longer than
    // that and half again is stalled, not quiet.
    this.silenceTimeoutMs = props.silenceTimeoutMs ?? 45_000;
    this.connectTimeoutMs = props.connectTimeoutMs ?? 15_000;
    this.maxBackoffMs = props.maxBackoffMs ?? 10_000;
    const timeoutSeconds = props.watchTimeoutSeconds ?? 30;
    const api = props.kubeConfig.makeApiClient(CustomObjectsApi);
    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`;
    const path = `/apis/${PIPELINE_RUN_GROUP}/${PIPELINE_RUN_VERSION}/namespaces/${props.namespace}/${PIPELINE_RUN_PLURAL}?allowWatchBookmarks=true&timeoutSeconds=${timeoutSeconds}`;
    const list = () =>
      withTimeout(
        api.listNamespacedCustomObject({
          group: PIPELINE_RUN_GROUP,
          version: PIPELINE_RUN_VERSION,
          namespace: props.namespace,
          plural: PIPELINE_RUN_PLURAL,
          labelSelector: selector,
        }) as Promise<KubernetesListObject<PipelineRun>>,
        this.connectTimeoutMs,
      );
    this.informer = new ListWatch<PipelineRun>(path, new ObservedWatch(props.kubeConfig, () => this.markActive()), list, false, selector);
    this.informer.on('add', (obj) => this.observe(obj));
    this.informer.on('update', (obj) => this.observe(obj));
    this.informer.on('delete', (obj) => this.enqueue(obj.metadata?.name, 'deleted'));
    this.informer.on('error', (error) => {
      if (this.stopped || this.restarting) return;
      this.props.log.warn({ err: error }, 'PipelineRun watch failed; restarting');
      void this.restart();
    });
  }

  /** Starts in the background: the app serves even while Kubernetes is unreachable. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.watchdog = setInterval(() => {
      if (!this.restarting && Date.now() - this.lastActivity > this.silenceTimeoutMs) {
        this.props.log.warn({ silentMs: Date.now() - this.lastActivity }, 'PipelineRun watch went silent; restarting');
        void this.restart();
      }
    }, Math.max(100, Math.min(5_000, this.silenceTimeoutMs / 4)));
    void this.connect();
  }

  isSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the initial list has been applied and the watch is open. */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    await this.informer.stop();
    await Promise.all(this.draining);
  }

  private markActive(): void {
    this.lastActivity = Date.now();
    this.failures = 0;
  }

  private async connect(): Promise<void> {
    const listStartedAt = new Date();
    const generation = this.generation;
    try {
      // start() lists, then resolves once the watch's response headers arrive: bound both.
      await withTimeout(this.informer.start(), this.connectTimeoutMs + 1_000);
    } catch (error) {
      if (this.stopped || generation !== this.generation) return;
      this.props.log.warn({ err: error }, 'PipelineRun list/watch did not connect; retrying');
      return this.restart();
    }
    // start() also resolves when the list or the watch failed: it reports that through the error
    // event, which has already begun a restart. Then this attempt is not synced, and the failure
    // must keep counting towards the backoff.
    if (this.stopped || generation !== this.generation) return;
    this.markActive();
    this.synced = true;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
    await this.failMissingRuns(listStartedAt).catch((error) => this.props.log.warn({ err: error }, 'could not check for deleted PipelineRuns'));
  }

  private async restart(): Promise<void> {
    if (this.restarting || this.stopped) return;
    this.restarting = true;
    this.generation += 1;
    this.synced = false;
    this.restarts += 1;
    this.failures += 1;
    try {
      await this.informer.stop();
      const delay = Math.min(this.maxBackoffMs, 200 * 2 ** Math.min(this.failures - 1, 10)) * (0.75 + Math.random() * 0.5);
      await new Promise((resolve) => setTimeout(resolve, delay));
    } finally {
      this.restarting = false;
    }
    if (!this.stopped) await this.connect();
  }

  private observe(run: PipelineRun): void {
    const name = run.metadata?.name;
    const version = run.metadata?.resourceVersion;
    if (!name || (version && this.applied.get(name) === version)) return;
    if (version) this.applied.set(name, version);
    this.enqueue(name, run);
  }

  private enqueue(name: string | undefined, observation: PipelineRun | 'deleted'): void {
    if (!name) return;
    if (observation === 'deleted') this.applied.delete(name);
    const queue = this.queues.get(name);
    if (queue) {
      queue.push(observation);
      return;
    }
    this.queues.set(name, [observation]);
    const drain = this.drain(name).finally(() => this.draining.delete(drain));
    this.draining.add(drain);
  }

  private async drain(name: string): Promise<void> {
    const queue = this.queues.get(name)!;
    while (queue.length > 0) {
      const observation = queue[0]!;
      try {
        await this.writes(() => this.apply(name, observation));
        queue.shift();
      } catch (error) {
        if (this.stopped) break;
        // The database is unreachable: keep the observation and try again shortly.
        this.props.log.warn({ err: error, deploymentId: name }, 'could not record a status change; retrying');
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
    this.queues.delete(name);
  }

  private async apply(name: string, observation: PipelineRun | 'deleted'): Promise<void> {
    if (observation === 'deleted') {
      await this.props.deployments.recordTransition(name, DELETED_BEFORE_FINISHING);
      return;
    }
    const mapped = mapPipelineRunStatus(observation);
    await this.props.deployments.recordTransition(name, mapped, {
      startedAt: toDate(observation.status?.startTime),
      finishedAt: toDate(observation.status?.completionTime),
    });
  }

  /**
   * A PipelineRun deleted while no watch was open leaves no DELETED event: deployments dispatched
   * before this list began, unfinished, and absent from it are checked one by one and failed.
   */
  private async failMissingRuns(listStartedAt: Date): Promise<void> {
    const candidates = await this.props.db
      .selectFrom('deployments')
      .select('id')
      .where('dispatched_at', '<', new Date(listStartedAt.getTime() - 5_000))
      .where('status', 'in', ['QUEUED', 'RUNNING', 'CANCELLING'])
      .execute();
    for (const { id } of candidates) {
      if (this.informer.get(id, this.props.namespace)) continue;
      if ((await this.props.pipelineRuns.get(id)) === null) this.enqueue(id, 'deleted');
    }
  }
}

function toDate(value: string | Date | undefined): Date | null {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}
