import type { Generated } from 'kysely';

export interface ServicesTable {
  id: string;
  organization_id: string;
  name: string;
  slug: string;
  repo_url: string;
  default_branch: string;
  pipeline_name: string;
  created_at: Generated<Date>;
}
