import { sql } from 'kysely';
import pg from 'pg';
import type { Db } from '../db/database.js';
import type { Logger } from '../logger.js';
import type { DeploymentEvent } from '../resolvers/models.js';
import { toDeploymentEvent } from '../resolvers/models.js';
import type { DeploymentPubSub, Topic } from './pubsub.js';

const CHANNEL = 'stackblaze_deployment_events';

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
 */
export class PostgresNotifications {
  private client: pg.Client | null = null;
  private stopped = false;
  private failures = 0;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private outbox: string[] = [];
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();
  /** Keys with local subscribers, per topic, so a resync reaches each of them. */
  private readonly tracked: Record<Topic, Map<string, number>> = { 'deployment:status': new Map(), 'service:events': new Map() };
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
    this.outbox.push(`${event.deploymentId}:${event.sequence}`);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushing = this.flushing.then(() => {
        this.flushScheduled = false;
        const payloads = this.outbox.splice(0);
        return payloads.length > 0 ? this.send(payloads) : undefined;
      });
    });
  }

  /** How many keys have local subscribers (for leak checks and metrics). */
  trackedCount(): number {
    return this.tracked['deployment:status'].size + this.tracked['service:events'].size;
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

  private async send(payloads: string[]): Promise<void> {
    for (let attempt = 0; attempt < 5 && !this.stopped; attempt++) {
      try {
        await sql`select pg_notify(${CHANNEL}, p) from unnest(${payloads}::text[]) as p`.execute(this.props.db);
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
      if (message.channel === CHANNEL && message.payload) void this.deliver(message.payload);
    });
    try {
      await client.connect();
      await client.query(`listen ${CHANNEL}`);
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

  /** After a gap in notifications, every local subscriber reads what it missed from the table. */
  private resyncAll(): void {
    for (const topic of ['deployment:status', 'service:events'] as const) {
      for (const key of this.tracked[topic].keys()) this.props.pubsub.publish(topic, key, { resync: true });
    }
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
