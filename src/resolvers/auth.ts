import type { Db } from '../db/database.js';
import type { Role } from '../db/tables/api-tokens.js';
import { ForbiddenError, UnauthenticatedError } from './errors.js';
import { hashToken } from './tokens.js';

/** Who is calling: every service method takes one and sees only `organizationId`'s data. */
export interface Viewer {
  tokenId: string;
  organizationId: string;
  role: Role;
  platformAdmin: boolean;
}

const RANK: Record<Role, number> = { VIEWER: 0, MEMBER: 1, ADMIN: 2 };

/** Throws unless the viewer's role is at least `role`. */
export function requireRole(viewer: Viewer, role: Role): void {
  if (RANK[viewer.role] < RANK[role]) {
    throw new ForbiddenError(`this needs the ${role} role; the token has ${viewer.role}`);
  }
}

export function requirePlatformAdmin(viewer: Viewer): void {
  if (!viewer.platformAdmin) throw new ForbiddenError('only the platform administrator can do this');
}

/** last_used_at is written at most this often per token, so reads do not turn into writes. */
const LAST_USED_RESOLUTION_MS = 60_000;

export class AuthService {
  constructor(private readonly props: { db: Db }) {}

  /** Resolves an `Authorization` header value; null when absent, throws when present but wrong. */
  async authenticate(authorization: string | null | undefined): Promise<Viewer | null> {
    if (authorization == null || authorization === '') return null;
    const match = /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(authorization);
    if (!match) throw new UnauthenticatedError('the Authorization header must be "Bearer <api token>"');
    const row = await this.props.db
      .selectFrom('api_tokens')
      .select(['id', 'organization_id', 'role', 'platform_admin', 'last_used_at'])
      .where('token_hash', '=', hashToken(match[1]!))
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) throw new UnauthenticatedError('the API token is not valid');
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.props.db.updateTable('api_tokens').set({ last_used_at: new Date() }).where('id', '=', row.id).execute();
    }
    return { tokenId: row.id, organizationId: row.organization_id, role: row.role, platformAdmin: row.platform_admin };
  }
}
