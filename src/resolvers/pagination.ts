import { sql } from 'kysely';
import { InvalidInputError } from './errors.js';

/** Relay-style connection arguments, forward (`first`/`after`) or backward (`last`/`before`). */
export interface PageArgs {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface Page<T> {
  nodes: T[];
  cursors: string[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/** Position in a newest-first list ordered by (created_at desc, id desc). */
export interface Position {
  createdAt: Date;
  id: string;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify([p.createdAt.toISOString(), p.id])).toString('base64url');
}

/** What encodeCursor writes: a canonical ISO instant in years 0000-9999, and an ID of ours. */
const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const CURSOR_ID = /^[A-Za-z0-9_-]{1,64}$/;

function decodeCursor(cursor: string, field: string): Position {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // Anything else (a year PostgreSQL cannot store, a NUL in the ID) would fail in the query as
    // an internal error rather than as the caller's mistake.
    if (typeof at === 'string' && typeof id === 'string' && CURSOR_TIME.test(at) && CURSOR_ID.test(id)) {
      const createdAt = new Date(at);
      if (!Number.isNaN(createdAt.getTime()) && createdAt.toISOString() === at) return { createdAt, id };
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidInputError(field, `${field} is not a cursor this API returned`);
}

export interface PagePlan {
  limit: number;
  /** 'older' walks towards older rows (forward), 'newer' towards newer ones (backward). */
  direction: 'older' | 'newer';
  from: Position | null;
}

/** Checks the arguments and turns them into one keyset query plan. */
export function planPage(args: PageArgs): PagePlan {
  const backward = args.last != null || args.before != null;
  if (backward && (args.first != null || args.after != null)) {
    throw new InvalidInputError('first', 'use either first/after or last/before, not both');
  }
  const size = (backward ? args.last : args.first) ?? DEFAULT_PAGE_SIZE;
  const field = backward ? 'last' : 'first';
  if (!Number.isInteger(size) || size < 0 || size > MAX_PAGE_SIZE) {
    throw new InvalidInputError(field, `${field} must be between 0 and ${MAX_PAGE_SIZE}`);
  }
  const cursor = backward ? args.before : args.after;
  return {
    limit: size,
    direction: backward ? 'newer' : 'older',
    // "" is no cursor this API hands out: refused like any other, not read as "from the start".
    from: cursor != null ? decodeCursor(cursor, backward ? 'before' : 'after') : null,
  };
}

/** Builds the page from `limit + 1` rows fetched in `plan.direction` order. */
export function toPage<T extends Position>(plan: PagePlan, rows: T[]): Page<T> {
  const more = rows.length > plan.limit;
  const taken = rows.slice(0, plan.limit);
  const nodes = plan.direction === 'older' ? taken : taken.reverse();
  return {
    nodes,
    cursors: nodes.map(encodeCursor),
    hasNextPage: plan.direction === 'older' ? more : plan.from !== null,
    hasPreviousPage: plan.direction === 'newer' ? more : plan.from !== null,
  };
}

/** Adds the keyset condition, order and limit of `plan` to a query over a table with `created_at` and `id`. */
export function pageQuery<QB extends { where: any; orderBy: any; limit: any }>(qb: QB, plan: PagePlan): QB {
  const order = plan.direction === 'older' ? sql`desc` : sql`asc`;
  let query: any = qb;
  if (plan.from) {
    const op = plan.direction === 'older' ? sql`<` : sql`>`;
    query = query.where(sql<boolean>`(created_at, id) ${op} (${plan.from.createdAt}, ${plan.from.id})`);
  }
  return query
    .orderBy(sql`created_at ${order}`)
    .orderBy(sql`id ${order}`)
    .limit(plan.limit + 1);
}
