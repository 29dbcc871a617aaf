import { sql } from 'kysely';
import { Repeater } from 'graphql-yoga';
import type { Db } from '../db/database.js';
import { isTerminal } from '../db/tables/deployments.js';
import type { PostgresNotifications } from '../pubsub/postgres-notifications.js';
import { isResync, type DeploymentPubSub, type EventTopic, type PublishedEvent, type StreamMessage } from '../pubsub/pubsub.js';
import type { Viewer } from './auth.js';
import { InvalidInputError, NotFoundError, ShuttingDownError, UnauthenticatedError, type DomainError } from './errors.js';
import type { HookCaller } from './hooks.js';
import { toDeploymentEvent } from './models.js';

export interface DeploymentStreamsProps {
  db: Db;
  pubsub: DeploymentPubSub;
  notifications: PostgresNotifications;
  /** How long to wait before reading the table again when it did not answer. */
  retryMs?: number;
}

/** Who may follow: an API token's organization, or a hook's service. */
export type StreamScope = { viewer: Viewer } | { hook: HookCaller };

/**
 * The last item of a stream that the server cuts short (it is shutting down, or the stream's API
 * token was revoked): what to tell the subscriber, so that it can tell this end from the
 * deployment's own.
 */
export interface StreamEnded {
  ended: DomainError;
}

export type StreamItem = PublishedEvent | StreamEnded;

export function isStreamEnded(item: StreamItem): item is StreamEnded {
  return 'ended' in item;
}

/** An open stream, as shutting down sees it. */
interface OpenStream {
  /** Hands the subscriber its last item, then ends; settles once the subscriber took it (or left). */
  shutDown(): Promise<void>;
  /** Ends at once. */
  stop(): void;
}

/**
 * Live deployment status for subscriptions and the hook route's follow mode. Every stream starts
 * from deployment_events (the current state, or everything after `afterSequence`), then applies
 * notifications in sequence order: a gap, a resync or a duplicate is settled by reading the table,
 * so a subscriber sees each event exactly once, in order, even across LISTEN reconnects. A stream
 * opened with an API token ends, with an error, as soon as that token is revoked.
 */
export class DeploymentStreams {
  /** The open streams, so shutting down ends them all. */
  private readonly open = new Set<OpenStream>();

  constructor(private readonly props: DeploymentStreamsProps) {}

  openCount(): number {
    return this.open.size;
  }

  /**
   * On shutdown: every open stream's subscriber is told the server is shutting down (a last item,
   * which GraphQL sends as an error and the hook route as an `error` event), then its stream ends.
   * Settles when all of them have taken it, or after `graceMs`, when whatever is left just ends;
   * so a caller closing sockets afterwards does not cut the message off.
   */
  async closeAll(graceMs = 1_000): Promise<void> {
    const streams = [...this.open];
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(streams.map((s) => s.shutDown())), grace]);
    clearTimeout(timer);
    for (const s of streams) s.stop();
    // A turn of the event loop, so that each transport sends its own end of the operation
    // (graphql-ws `complete`, SSE `complete`) before its socket closes.
    await new Promise((resolve) => setImmediate(resolve));
  }

  /** Checked before the stream starts, so a foreign or unknown deployment is an error, not an empty stream. */
  async followDeployment(scope: StreamScope, deploymentId: string, afterSequence?: number | null): Promise<AsyncIterableIterator<StreamItem>> {
    if (afterSequence != null && (!Number.isInteger(afterSequence) || afterSequence < 0)) {
      throw new InvalidInputError('afterSequence', 'afterSequence must be a whole number, 0 or more');
    }
    let query = this.props.db
      .selectFrom('deployments')
      .select(['id', 'service_id', 'organization_id', 'last_sequence', 'status'])
      .where('id', '=', deploymentId);
    query = 'viewer' in scope
      ? query.where('organization_id', '=', scope.viewer.organizationId)
      : query.where('service_id', '=', scope.hook.serviceId).where('organization_id', '=', scope.hook.organizationId);
    const deployment = await query.executeTakeFirst();
    if (!deployment) throw new NotFoundError('deployment');
    const start = afterSequence ?? Math.max(0, deployment.last_sequence - 1);
    // Finished, and the subscriber already has the last event: nothing will ever follow.
    if (isTerminal(deployment.status) && start >= deployment.last_sequence) return emptyStream();
    const tokenId = 'viewer' in scope ? scope.viewer.tokenId : null;
    return this.stream('deployment:status', deploymentId, { [deploymentId]: start }, true, tokenId);
  }

  /** Every deployment of a service: the current state of those still in progress, then each change. */
  async followService(viewer: Viewer, serviceId: string): Promise<AsyncIterableIterator<StreamItem>> {
    const service = await this.props.db
      .selectFrom('services')
      .select('id')
      .where('id', '=', serviceId)
      .where('organization_id', '=', viewer.organizationId)
      .executeTakeFirst();
    if (!service) throw new NotFoundError('service');
    const inProgress = await this.props.db
      .selectFrom('deployments')
      .select(['id', 'last_sequence'])
      .where('service_id', '=', serviceId)
      .where('status', 'in', ['QUEUED', 'RUNNING', 'CANCELLING'])
      .execute();
    const positions = Object.fromEntries(inProgress.map((d) => [d.id, d.last_sequence - 1]));
    // The database's clock, as event times are: events from here on belong to this stream.
    const { rows } = await sql<{ now: Date }>`select now() as now`.execute(this.props.db);
    return this.stream('service:events', serviceId, positions, false, viewer.tokenId, rows[0]!.now);
  }

  /**
   * `positions` holds, per deployment, the last sequence the subscriber has; events after it are
   * read from the table first. A single-deployment stream completes after the terminal event.
   * `tokenId`: the API token it was opened with (null for a hook's follow mode).
   */
  private stream(
    topic: EventTopic,
    key: string,
    positions: Record<string, number>,
    completeOnTerminal: boolean,
    tokenId: string | null,
    since?: Date,
  ): AsyncIterableIterator<StreamItem> {
    const { db, pubsub, notifications } = this.props;
    const retryMs = this.props.retryMs ?? 1_000;
    const last = new Map(Object.entries(positions));

    return new Repeater<StreamItem>(async (push, stop) => {
      let finished = false;
      let retry: NodeJS.Timeout | null = null;
      const pending: Array<StreamMessage | null> = [];

      let ending: Promise<void> | null = null;
      /** Nothing more is sent but `reason`; the stream ends once the subscriber has taken it. */
      const end = (reason: DomainError): Promise<void> => {
        if (ending) return ending;
        if (finished) return (ending = Promise.resolve());
        finished = true;
        pending.length = 0;
        const taken = push({ ended: reason });
        ending = Promise.race([taken, stop]).then(
          () => stop(),
          () => stop(),
        );
        return ending;
      };
      const self: OpenStream = {
        shutDown: () => end(new ShuttingDownError(topic === 'deployment:status' ? (last.get(key) ?? 0) : undefined)),
        stop: () => stop(),
      };
      this.open.add(self);
      const untrack = notifications.track(topic, key);

      // Revocations arrive through the LISTEN connection, as events do, so checking costs nothing
      // per event; one heard just before this stream began listening is remembered there.
      const revoked = () => void end(new UnauthenticatedError('the API token this subscription was opened with has been revoked'));
      const unlistenRevoked = tokenId === null ? () => {} : pubsub.listen('api-token:revoked', tokenId, revoked);
      const untrackToken = tokenId === null ? () => {} : notifications.track('api-token:revoked', tokenId);
      if (tokenId !== null && notifications.wasRevokedRecently(tokenId)) revoked();

      const emit = async (event: PublishedEvent) => {
        if (finished || event.sequence <= (last.get(event.deploymentId) ?? 0)) return;
        last.set(event.deploymentId, event.sequence);
        await push(event);
        if (completeOnTerminal && isTerminal(event.status)) {
          finished = true;
          stop();
        }
      };

      /** Reads what the subscriber has not seen yet, in order. */
      const catchUp = async () => {
        let q = db
          .selectFrom('deployment_events as e')
          .innerJoin('deployments as d', 'd.id', 'e.deployment_id')
          .selectAll('e')
          .select(['d.service_id', 'd.organization_id'])
          .orderBy('e.at')
          .orderBy('e.deployment_id')
          .orderBy('e.sequence');
        q = topic === 'deployment:status'
          ? q.where('e.deployment_id', '=', key).where('e.sequence', '>', last.get(key) ?? 0)
          : q.where('d.service_id', '=', key).where((eb) =>
              eb.or([
                eb('e.at', '>=', since ?? new Date(0)),
                ...(last.size ? [eb('e.deployment_id', 'in', [...last.keys()])] : []),
              ]),
            );
        const rows = await q.execute();
        for (const row of rows) await emit({ ...toDeploymentEvent(row), serviceId: row.service_id, organizationId: row.organization_id });
      };

      const settle = async (message: StreamMessage | null) => {
        if (finished) return;
        try {
          if (message && !isResync(message) && message.sequence === (last.get(message.deploymentId) ?? 0) + 1) {
            await emit(message);
          } else if (message === null || isResync(message) || message.sequence > (last.get(message.deploymentId) ?? 0)) {
            await catchUp();
          }
        } catch {
          // The table did not answer: try again shortly rather than leave a gap.
          if (!finished && !retry) retry = setTimeout(() => {
            retry = null;
            queue(null);
          }, retryMs);
        }
      };

      // Messages are handled one at a time, in arrival order. The listener is called synchronously
      // by publish (once per subscriber of a busy deployment), so it only appends to a queue and,
      // when idle, starts the loop that works through it: no iterator, promise chain or event
      // object per message and subscriber.
      let draining = false;
      const drain = async () => {
        draining = true;
        while (pending.length > 0) await settle(pending.shift()!);
        draining = false;
      };
      const queue = (message: StreamMessage | null) => {
        if (finished) return;
        pending.push(message);
        if (!draining) void drain();
      };

      const unlisten = pubsub.listen(topic, key, queue);
      queue(null);

      await stop;
      finished = true;
      pending.length = 0;
      this.open.delete(self);
      if (retry) clearTimeout(retry);
      untrack();
      unlisten();
      untrackToken();
      unlistenRevoked();
    });
  }
}

function emptyStream(): AsyncIterableIterator<StreamItem> {
  return new Repeater<StreamItem>((_push, stop) => stop());
}
