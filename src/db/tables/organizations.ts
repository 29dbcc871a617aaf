import type { Generated } from 'kysely';

export interface OrganizationsTable {
  id: string;
  name: string;
  created_at: Generated<Date>;
}
