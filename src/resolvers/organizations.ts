import { sql } from 'kysely';
import type { Db, DbExecutor } from '../db/database.js';
import type { Role } from '../db/tables/api-tokens.js';
import { requirePlatformAdmin, requireRole, type Viewer } from './auth.js';
import { ForbiddenError, InvalidInputError, NotFoundError } from './errors.js';
import { toApiToken, toOrganization, type ApiToken, type Organization } from './models.js';
import { API_TOKEN_PREFIX, displayPrefix, generateToken, hashToken, newId } from './tokens.js';
import { parseName } from './validation.js';

const DEFAULT_ORGANIZATION_NAME = 'Default';
const ROLES: readonly Role[] = ['ADMIN', 'MEMBER', 'VIEWER'];

export interface OrganizationServiceProps {
  db: Db;
  /** Called after a revocation has committed, so every replica ends the token's open streams. */
  onTokenRevoked?: (tokenId: string) => void;
}

export class OrganizationService {
  constructor(private readonly props: OrganizationServiceProps) {}

  async getOrganization(viewer: Viewer): Promise<Organization> {
    const row = await this.props.db
      .selectFrom('organizations')
      .selectAll()
      .where('id', '=', viewer.organizationId)
      .executeTakeFirstOrThrow();
    return toOrganization(row);
  }

  /** Platform administrator only: a new organization and the first ADMIN token for it (shown once). */
  async createOrganization(viewer: Viewer, input: { name: string }): Promise<{ organization: Organization; adminToken: string }> {
    requirePlatformAdmin(viewer);
    const name = parseName(input.name);
    return this.props.db.transaction().execute(async (tx) => {
      const org = await tx.insertInto('organizations').values({ id: newId('org'), name }).returningAll().executeTakeFirstOrThrow();
      const adminToken = generateToken(API_TOKEN_PREFIX);
      await tx
        .insertInto('api_tokens')
        .values({
          id: newId('tok'),
          organization_id: org.id,
          name: `${name} admin`,
          role: 'ADMIN',
          token_hash: hashToken(adminToken),
          token_prefix: displayPrefix(adminToken),
        })
        .execute();
      return { organization: toOrganization(org), adminToken };
    });
  }

  /** ADMIN only: a token for the viewer's own organization (shown once). */
  async createApiToken(viewer: Viewer, input: { name: string; role: Role }): Promise<{ apiToken: ApiToken; token: string }> {
    requireRole(viewer, 'ADMIN');
    const name = parseName(input.name);
    if (!ROLES.includes(input.role)) throw new InvalidInputError('role', 'role must be ADMIN, MEMBER or VIEWER');
    const token = generateToken(API_TOKEN_PREFIX);
    const row = await this.props.db
      .insertInto('api_tokens')
      .values({
        id: newId('tok'),
        organization_id: viewer.organizationId,
        name,
        role: input.role,
        token_hash: hashToken(token),
        token_prefix: displayPrefix(token),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { apiToken: toApiToken(row), token };
  }

  /** ADMIN only: the organization's tokens, newest first (revoked ones included). */
  async listApiTokens(viewer: Viewer): Promise<ApiToken[]> {
    requireRole(viewer, 'ADMIN');
    const rows = await this.props.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('organization_id', '=', viewer.organizationId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute();
    return rows.map(toApiToken);
  }

  /**
   * ADMIN only. Every replica checks tokens against the database on each request, and hears of the
   * revocation to end the subscriptions opened with it, so the token stops working everywhere at
   * once. Revoking twice keeps the first time.
   */
  async revokeApiToken(viewer: Viewer, id: string): Promise<ApiToken> {
    requireRole(viewer, 'ADMIN');
    const row = await this.props.db
      .updateTable('api_tokens')
      .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.fn<Date>('now')) }))
      .where('id', '=', id)
      .where('organization_id', '=', viewer.organizationId)
      // The platform administrator's token lives in the default organization, but its ADMINs
      // rank below it: they must not be able to lock it out.
      .$if(!viewer.platformAdmin, (qb) => qb.where('platform_admin', '=', false))
      .returningAll()
      .executeTakeFirst();
    if (row) {
      this.props.onTokenRevoked?.(row.id);
      return toApiToken(row);
    }
    const protectedToken = await this.props.db
      .selectFrom('api_tokens')
      .select('id')
      .where('id', '=', id)
      .where('organization_id', '=', viewer.organizationId)
      .executeTakeFirst();
    if (protectedToken) throw new ForbiddenError("only the platform administrator can revoke the platform administrator's token");
    throw new NotFoundError('API token');
  }

  async getApiToken(viewer: Viewer, id: string): Promise<ApiToken | null> {
    const row = await this.props.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('id', '=', id)
      .where('organization_id', '=', viewer.organizationId)
      .executeTakeFirst();
    return row ? toApiToken(row) : null;
  }

  /**
   * Makes sure the default organization and a platform-admin token exist. With `token` given, that
   * exact value becomes valid; without, one is generated when no platform admin exists yet and
   * returned so it can be printed once. Safe when several replicas start at once.
   */
  async ensureBootstrapAdmin(token?: string): Promise<{ generatedToken: string | null }> {
    return this.props.db.transaction().execute(async (tx) => {
      // Serialise concurrent bootstraps across replicas for the length of this transaction.
      await sql`select pg_advisory_xact_lock(7242001)`.execute(tx);
      let org = await tx.selectFrom('organizations').select('id').orderBy('created_at').limit(1).executeTakeFirst();
      org ??= await tx
        .insertInto('organizations')
        .values({ id: newId('org'), name: DEFAULT_ORGANIZATION_NAME })
        .returning('id')
        .executeTakeFirstOrThrow();

      if (token) {
        const hash = hashToken(token);
        const updated = await tx
          .updateTable('api_tokens')
          .set({ revoked_at: null, role: 'ADMIN', platform_admin: true })
          .where('token_hash', '=', hash)
          .executeTakeFirst();
        if (updated.numUpdatedRows === 0n) await insertPlatformAdmin(tx, org.id, token);
        return { generatedToken: null };
      }
      const admin = await tx.selectFrom('api_tokens').select('id').where('platform_admin', '=', true).limit(1).executeTakeFirst();
      if (admin) return { generatedToken: null };
      const generated = generateToken(API_TOKEN_PREFIX);
      await insertPlatformAdmin(tx, org.id, generated);
      return { generatedToken: generated };
    });
  }
}

async function insertPlatformAdmin(tx: DbExecutor, organizationId: string, token: string): Promise<void> {
  await tx
    .insertInto('api_tokens')
    .values({
      id: newId('tok'),
      organization_id: organizationId,
      name: 'bootstrap admin',
      role: 'ADMIN',
      platform_admin: true,
      token_hash: hashToken(token),
      token_prefix: displayPrefix(token),
    })
    .execute();
}
