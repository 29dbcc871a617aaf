import { sql, type Kysely } from 'kysely';

// Immutable once landed: later changes get a new, later-named file.

/** Pagination cursors carry JavaScript Dates (milliseconds), so paged-by columns keep no more. */
const MILLISECOND_NOW = sql`date_trunc('milliseconds', now())`;

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('organizations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();

  await db.schema
    .createTable('api_tokens')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull().check(sql`role in ('ADMIN', 'MEMBER', 'VIEWER')`))
    .addColumn('platform_admin', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('token_hash', 'bytea', (c) => c.notNull().unique())
    .addColumn('token_prefix', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('revoked_at', 'timestamptz')
    .execute();

  await db.schema
    .createTable('services')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('slug', 'text', (c) => c.notNull())
    .addColumn('repo_url', 'text', (c) => c.notNull())
    .addColumn('default_branch', 'text', (c) => c.notNull())
    .addColumn('pipeline_name', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(MILLISECOND_NOW))
    .addUniqueConstraint('services_organization_slug_unique', ['organization_id', 'slug'])
    .execute();

  await db.schema
    .createTable('deploy_hooks')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('service_id', 'text', (c) => c.notNull().references('services.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('token_hash', 'bytea', (c) => c.notNull().unique())
    .addColumn('token_prefix', 'text', (c) => c.notNull())
    .addColumn('created_by_token_id', 'text', (c) => c.references('api_tokens.id').onDelete('set null'))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('revoked_at', 'timestamptz')
    .addColumn('last_used_at', 'timestamptz')
    .addColumn('last_used_ip', 'text')
    .addColumn('use_count', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('deploy_hooks_service_idx').on('deploy_hooks').column('service_id').execute();

  await db.schema
    .createTable('deployments')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('organization_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    .addColumn('service_id', 'text', (c) => c.notNull().references('services.id').onDelete('cascade'))
    .addColumn('hook_id', 'text', (c) => c.references('deploy_hooks.id').onDelete('set null'))
    .addColumn('triggered_by_token_id', 'text', (c) => c.references('api_tokens.id').onDelete('set null'))
    .addColumn('branch', 'text', (c) => c.notNull())
    .addColumn('clear_cache', 'boolean', (c) => c.notNull())
    .addColumn('status', 'text', (c) =>
      c
        .notNull()
        .check(sql`status in ('QUEUED', 'RUNNING', 'CANCELLING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT')`),
    )
    .addColumn('reason', 'text')
    .addColumn('message', 'text')
    .addColumn('last_sequence', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('idempotency_key', 'text')
    .addColumn('dispatched_at', 'timestamptz')
    .addColumn('dispatch_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('next_dispatch_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(MILLISECOND_NOW))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('started_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .execute();
  // Listing a service's deployments newest first, and paging through them by (created_at, id).
  await db.schema
    .createIndex('deployments_service_created_idx')
    .on('deployments')
    .columns(['service_id', 'created_at desc', 'id desc'])
    .execute();
  await db.schema
    .createIndex('deployments_organization_created_idx')
    .on('deployments')
    .columns(['organization_id', 'created_at desc', 'id desc'])
    .execute();
  // A retried hook call with the same Idempotency-Key finds its deployment, even under a race.
  await db.schema
    .createIndex('deployments_idempotency_unique')
    .on('deployments')
    .columns(['service_id', 'idempotency_key'])
    .unique()
    .where(sql.ref('idempotency_key'), 'is not', null)
    .execute();
  // The outbox: what the dispatcher still has to create in Kubernetes.
  await db.schema
    .createIndex('deployments_undispatched_idx')
    .on('deployments')
    .column('next_dispatch_at')
    .where(sql.ref('dispatched_at'), 'is', null)
    .execute();

  await db.schema
    .createTable('deployment_events')
    .addColumn('deployment_id', 'text', (c) => c.notNull().references('deployments.id').onDelete('cascade'))
    .addColumn('sequence', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('previous_status', 'text')
    .addColumn('reason', 'text')
    .addColumn('message', 'text')
    .addColumn('at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('deployment_events_pk', ['deployment_id', 'sequence'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['deployment_events', 'deployments', 'deploy_hooks', 'services', 'api_tokens', 'organizations']) {
    await db.schema.dropTable(table).execute();
  }
}
