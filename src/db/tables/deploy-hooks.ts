import type { Generated } from 'kysely';
import type { Timestamp } from './timestamp.js';

export interface DeployHooksTable {
  id: string;
  organization_id: string;
  service_id: string;
  name: string;
  token_hash: Buffer;
  token_prefix: string;
  created_by_token_id: string | null;
  created_at: Generated<Date>;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
  last_used_ip: string | null;
  use_count: Generated<number>;
}
