import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { DeploymentEvent } from '../resolvers/models.js';
import { toDeploymentEvent } from '../resolvers/models.js';
import type { DeploymentPubSub, EventTopic, Topic } from './pubsub.js';

const CHANNEL = 'stackblaze_deployment_events';
/** Payload: an API token's ID, sent once its revocation has committed. */
const REVOCATIONS_CHANNEL = 'stackblaze_api_token_revocations';
/**
 * How long a revocation is remembered: longer than a subscription takes from its authentication
 * to listening here, so one that authenticated just before the revocation committed still ends.
 */
const REVOCATION_MEMORY_MS = 60_000;

export interface PostgresNotificationsProps {
  connectionString: string;
  db: Db;
  pubsub: DeploymentPubSub;
  log: Logger;
  maxBackoffMs?: number;
}

/**
 * Carries committed transitions to every replica's pub/sub: NOTIFY with IDs only (PostgreSQL
 * caps payloads at 8000 bytes), one LISTEN connection per replica however many subscribers it
 * has. Notifications are sent after commit, batched, never from inside a hook's insert (whose
 * QUEUED event is announced here too), so concurrent commits are not serialised on NOTIFY's lock.
 * When the listening connection drops, every local subscriber is told to resync from
 * deployment_events once it is back, so nothing is missed or repeated.
 *
 * The same connection hears API token revocations (the token's ID, sent after commit), so that
 * streams opened with a revoked token end on every replica at once, with no query per event.
 */
export class PostgresNotifications {
  private client: pg.Client | null = null;
  private stopped = false;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private outbox: Array<{ channel: string; payload: string }> = [];
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  /** Keys with local subscribers, per topic, so a resync reaches each of them. */
  private readonly tracked: Record<Topic, Map<string, number>> = {
    'deployment:status': new Map(),
    'service:events': new Map(),
    'api-token:revoked': new Map(),
  };
  /** Token IDs heard revoked, with when, oldest first (see REVOCATION_MEMORY_MS). */
  private readonly recentlyRevoked = new Map<string, number>();
  private listening = false;
  /** Times the LISTEN connection was re-established after it dropped. */
  reconnects = 0;

  constructor(private readonly props: PostgresNotificationsProps) {}

  async start(): Promise<void> {
    await this.connect();
  }

  isListening(): boolean {
    return this.listening;
  }

  /**
   * Queues a NOTIFY for a committed transition (a new deployment's QUEUED event included). All
   * queued while the previous statement is still on its way go out together in the next one, so a
   * burst of hook calls costs one notifying transaction at a time, never one per call.
   */
  notify(event: DeploymentEvent): void {
    this.enqueue(CHANNEL, `${event.deploymentId}:${event.sequence}`);
  }

  /** Queues a NOTIFY for a committed API token revocation, sent like transitions are. */
  notifyTokenRevoked(tokenId: string): void {
    this.enqueue(REVOCATIONS_CHANNEL, tokenId);
  }

  /** Whether this replica heard of `tokenId`'s revocation lately (a stream opening with it ends at once). */
  wasRevokedRecently(tokenId: string): boolean {
    const at = this.recentlyRevoked.get(tokenId);
    return at !== undefined && Date.now() - at < REVOCATION_MEMORY_MS;
  }

  private enqueue(channel: string, payload: string): void {
    this.outbox.push({ channel, payload });
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushing = this.flushing.then(() => {
        this.flushScheduled = false;
        const notifications = this.outbox.splice(0);
        return notifications.length > 0 ? this.send(notifications) : undefined;
      });
    });
  }

  /** How many keys have local subscribers (for leak checks and metrics). */
  trackedCount(): number {
    return this.tracked['deployment:status'].size + this.tracked['service:events'].size + this.tracked['api-token:revoked'].size;
  }

  /** Counts a local subscriber of `key`; call the returned function when it leaves. */
  track(topic: Topic, key: string): () => void {
    const counts = this.tracked[topic];
    counts.set(key, (counts.get(key) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = (counts.get(key) ?? 1) - 1;
      if (left <= 0) counts.delete(key);
      else counts.set(key, left);
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    await this.flushing;
    const client = this.client;
    this.client = null;
    this.listening = false;
    await client?.end().catch(() => {});
  }

  private async send(notifications: Array<{ channel: string; payload: string }>): Promise<void> {
    const channels = notifications.map((n) => n.channel);
    const payloads = notifications.map((n) => n.payload);
    for (let attempt = 0; attempt < 5 && !this.stopped; attempt++) {
      try {
        await sql`select pg_notify(c, p) from unnest(${channels}::text[], ${payloads}::text[]) as n(c, p)`.execute(this.props.db);
        return;
      } catch (error) {
        // Subscribers still catch up from the table on their next event or resync.
        this.props.log.warn({ err: error, attempt }, 'could not send deployment notifications');
        await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
      }
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.props.connectionString, keepAlive: true });
    const lost = (error?: Error) => {
      if (this.client !== client) return;
      this.client = null;
      this.listening = false;
      client.removeAllListeners('notification');
      client.end().catch(() => {});
      if (this.stopped) return;
      this.props.log.warn({ err: error }, 'lost the LISTEN connection; reconnecting');
      this.scheduleReconnect();
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (message) => {
      if (!message.payload) return;
      if (message.channel === CHANNEL) void this.deliver(message.payload);
      else if (message.channel === REVOCATIONS_CHANNEL) this.revoked(message.payload);
    });
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}; listen ${REVOCATIONS_CHANNEL}`);
    } catch (error) {
      client.removeAllListeners();
      client.on('error', () => {});
      await client.end().catch(() => {});
      if (this.stopped) return;
      this.props.log.warn({ err: error }, 'could not LISTEN for deployment events; retrying');
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => {});
      return;
    }
    const wasReconnect = this.failures > 0 || this.client !== null;
    this.client = client;
    this.listening = true;
    this.failures = 0;
    if (wasReconnect) {
      this.reconnects += 1;
      this.resyncAll();
    }
  }

  private scheduleReconnect(): void {
    this.failures += 1;
    const delay = Math.min(this.props.maxBackoffMs ?? 10_000, 100 * 2 ** Math.min(this.failures, 10));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      void this.connect();
    }, delay);
  }

  /**
   * After a gap in notifications, every local subscriber reads what it missed from the table, and
   * the tokens of open streams are checked for a revocation that was not heard.
   */
  private resyncAll(): void {
    for (const topic of ['deployment:status', 'service:events'] as const satisfies EventTopic[]) {
      for (const key of this.tracked[topic].keys()) this.props.pubsub.publish(topic, key, { resync: true });
    }
    const tokens = [...this.tracked['api-token:revoked'].keys()];
    if (tokens.length === 0) return;
    this.props.db
      .selectFrom('api_tokens')
      .select('id')
      .where('id', 'in', tokens)
      .where('revoked_at', 'is not', null)
      .execute()
      .then(
        (rows) => rows.forEach((row) => this.revoked(row.id)),
        (error) => this.props.log.warn({ err: error }, 'could not check the tokens of open streams for revocations'),
      );
  }

  /** Remembers the revocation for a while and ends this replica's streams opened with the token. */
  private revoked(tokenId: string): void {
    const now = Date.now();
    this.recentlyRevoked.delete(tokenId);
    this.recentlyRevoked.set(tokenId, now);
    for (const [id, at] of this.recentlyRevoked) {
      if (now - at < REVOCATION_MEMORY_MS) break;
      this.recentlyRevoked.delete(id);
    }
    this.props.pubsub.publish('api-token:revoked', tokenId, { revoked: true });
  }

  private async deliver(payload: string): Promise<void> {
    const separator = payload.lastIndexOf(':');
    const deploymentId = payload.slice(0, separator);
    const sequence = Number(payload.slice(separator + 1));
    if (!deploymentId || !Number.isInteger(sequence)) return;
    const watchedDeployment = this.tracked['deployment:status'].has(deploymentId);
    if (!watchedDeployment && this.tracked['service:events'].size === 0) return;
    try {
      const row = await this.props.db
        .selectFrom('deployment_events as e')
        .innerJoin('deployments as d', 'd.id', 'e.deployment_id')
        .selectAll('e')
        .select(['d.service_id', 'd.organization_id'])
        .where('e.deployment_id', '=', deploymentId)
        .where('e.sequence', '=', sequence)
        .executeTakeFirst();
      if (!row) return;
      const event = { ...toDeploymentEvent(row), serviceId: row.service_id, organizationId: row.organization_id };
      if (watchedDeployment || this.tracked['deployment:status'].has(deploymentId)) {
        this.props.pubsub.publish('deployment:status', deploymentId, event);
      }
      if (this.tracked['service:events'].has(row.service_id)) this.props.pubsub.publish('service:events', row.service_id, event);
    } catch (error) {
      // Its subscribers read the table instead (and retry there until it answers).
      this.props.log.warn({ err: error, deploymentId }, 'could not read a notified deployment event');
      this.props.pubsub.publish('deployment:status', deploymentId, { resync: true });
    }
  }
}
