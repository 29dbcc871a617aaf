import { timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.js';
import { requireRole, type Viewer } from './auth.js';
import { NotFoundError } from './errors.js';
import { toDeployHook, type DeployHook } from './models.js';
import { displayPrefix, generateToken, hashToken, HOOK_TOKEN_PREFIX, newId } from './tokens.js';
import { parseName } from './validation.js';

/** What a valid hook call is allowed to act on. */
export interface HookCaller {
  hookId: string;
  serviceId: string;
  organizationId: string;
}

/** Tokens this service hands out: the prefix plus 43 base64url characters. */
const TOKEN_SHAPE = new RegExp(`^${HOOK_TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`);

export class HookService {
  constructor(private readonly props: { db: Db; publicUrl: string }) {}

  hookUrl(serviceId: string, token: string): string {
    return `${this.props.publicUrl}/hooks/${encodeURIComponent(serviceId)}/${token}`;
  }

  /** The URL and token are returned here and never again: only the token's hash is kept. */
  async createDeployHook(
    viewer: Viewer,
    input: { serviceId: string; name: string },
  ): Promise<{ hook: DeployHook; url: string; token: string }> {
    requireRole(viewer, 'MEMBER');
    const name = parseName(input.name);
    const service = await this.props.db
      .selectFrom('services')
      .select('id')
      .where('id', '=', input.serviceId)
      .where('organization_id', '=', viewer.organizationId)
      .executeTakeFirst();
    if (!service) throw new NotFoundError('service');
    const token = generateToken(HOOK_TOKEN_PREFIX);
    const row = await this.props.db
      .insertInto('deploy_hooks')
      .values({
        id: newId('hook'),
        organization_id: viewer.organizationId,
        service_id: service.id,
        name,
        token_hash: hashToken(token),
        token_prefix: displayPrefix(token),
        created_by_token_id: viewer.tokenId,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return { hook: toDeployHook(row), url: this.hookUrl(service.id, token), token };
  }

  /** Revoking twice is harmless: the first revocation time stays. */
  async revokeDeployHook(viewer: Viewer, id: string): Promise<DeployHook> {
    requireRole(viewer, 'MEMBER');
    const row = await this.props.db
      .updateTable('deploy_hooks')
      .set((eb) => ({ revoked_at: eb.fn.coalesce('revoked_at', eb.fn<Date>('now')) }))
      .where('id', '=', id)
      .where('organization_id', '=', viewer.organizationId)
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new NotFoundError('deploy hook');
    return toDeployHook(row);
  }

  async getHook(viewer: Viewer, id: string): Promise<DeployHook | null> {
    const row = await this.props.db
      .selectFrom('deploy_hooks')
      .selectAll()
      .where('id', '=', id)
      .where('organization_id', '=', viewer.organizationId)
      .executeTakeFirst();
    return row ? toDeployHook(row) : null;
  }

  async listHooks(viewer: Viewer, serviceId: string): Promise<DeployHook[]> {
    const rows = await this.props.db
      .selectFrom('deploy_hooks')
      .selectAll()
      .where('service_id', '=', serviceId)
      .where('organization_id', '=', viewer.organizationId)
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .execute();
    return rows.map(toDeployHook);
  }

  /**
   * The hook a URL names, or null for an unknown service, a wrong token or a revoked hook alike.
   * Looked up by the token's hash (an index probe that reveals nothing about near misses), then
   * the hash and service are compared in constant time.
   */
  async authenticateHook(serviceId: string, token: string): Promise<HookCaller | null> {
    if (!TOKEN_SHAPE.test(token)) return null;
    const hash = hashToken(token);
    const row = await this.props.db
      .selectFrom('deploy_hooks')
      .select(['id', 'service_id', 'organization_id', 'token_hash'])
      .where('token_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) return null;
    const sameHash = timingSafeEqual(row.token_hash, hash);
    const expected = Buffer.from(row.service_id);
    const given = Buffer.from(serviceId);
    const sameService = expected.length === given.length && timingSafeEqual(expected, given);
    return sameHash && sameService ? { hookId: row.id, serviceId: row.service_id, organizationId: row.organization_id } : null;
  }
}
