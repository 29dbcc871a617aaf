import type { Db } from '../db/database.js';
import { requireRole, type Viewer } from './auth.js';
import { ConflictError, InvalidInputError } from './errors.js';
import { toService, type Service } from './models.js';
import { pageQuery, planPage, toPage, type Page, type PageArgs } from './pagination.js';
import { newId } from './tokens.js';
import { parseBranch, parseName, parseRepoUrl, slugify } from './validation.js';

export const DEFAULT_PIPELINE_NAME = 'stackblaze-build';

export interface CreateServiceInput {
  name: string;
  repoUrl: string;
  defaultBranch?: string | null;
  pipelineName?: string | null;
}

/** The organization's services: what a hook deploys. */
export class ServiceCatalog {
  constructor(private readonly props: { db: Db }) {}

  async createService(viewer: Viewer, input: CreateServiceInput): Promise<Service> {
    requireRole(viewer, 'MEMBER');
    const name = parseName(input.name);
    const slug = slugify(name);
    if (!slug) throw new InvalidInputError('name', 'name must contain at least one ASCII letter or digit (a-z, 0-9): its slug is made of them');
    const repoUrl = parseRepoUrl(input.repoUrl);
    const defaultBranch = parseBranch(input.defaultBranch ?? 'main', 'defaultBranch');
    const pipelineName = input.pipelineName ?? DEFAULT_PIPELINE_NAME;
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(pipelineName)) {
      throw new InvalidInputError('pipelineName', 'pipelineName must be a Kubernetes object name (lowercase letters, digits, "-")');
    }
    const row = await this.props.db
      .insertInto('services')
      .values({
        id: newId('svc'),
        organization_id: viewer.organizationId,
        name,
        slug,
        repo_url: repoUrl,
        default_branch: defaultBranch,
        pipeline_name: pipelineName,
      })
      .onConflict((oc) => oc.columns(['organization_id', 'slug']).doNothing())
      .returningAll()
      .executeTakeFirst();
    if (!row) throw new ConflictError(`a service named like "${name}" already exists`);
    return toService(row);
  }

  /** null when it does not exist or belongs to another organization: the two look the same. */
  async getService(viewer: Viewer, id: string): Promise<Service | null> {
    const row = await this.props.db
      .selectFrom('services')
      .selectAll()
      .where('id', '=', id)
      .where('organization_id', '=', viewer.organizationId)
      .executeTakeFirst();
    return row ? toService(row) : null;
  }

  async listServices(viewer: Viewer, args: PageArgs): Promise<Page<Service>> {
    const plan = planPage(args);
    const rows = await pageQuery(
      this.props.db.selectFrom('services').selectAll().where('organization_id', '=', viewer.organizationId),
      plan,
    ).execute();
    return toPage(plan, rows.map(toService));
  }
}
