import type { Generated } from 'kysely';
import type { Timestamp } from './timestamp.js';

export type Role = 'ADMIN' | 'MEMBER' | 'VIEWER';

export interface ApiTokensTable {
  id: string;
  organization_id: string;
  name: string;
  role: Role;
  /** The platform administrator may create organizations; every other token is scoped to its own. */
  platform_admin: Generated<boolean>;
  token_hash: Buffer;
  token_prefix: string;
  created_at: Generated<Date>;
  last_used_at: Timestamp | null;
  revoked_at: Timestamp | null;
}
