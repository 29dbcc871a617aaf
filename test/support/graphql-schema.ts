import { readFileSync } from 'node:fs';
import {
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  getNamedType,
  type IntrospectionQuery,
  isNonNullType,
  isObjectType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';

/** The committed SDL (schema.graphql), as clients and code generators see it. */
export function loadSchemaFile(): GraphQLSchema {
  return buildSchema(readFileSync(new URL('../../schema.graphql', import.meta.url), 'utf8'));
}

/** The schema the running app serves, read through introspection as any client would. */
export async function fetchLiveSchema(graphqlUrl: string, token: string): Promise<GraphQLSchema> {
  const res = await fetch(graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: getIntrospectionQuery() }),
  });
  const body = (await res.json()) as { data?: IntrospectionQuery; errors?: unknown };
  if (!body.data) throw new Error(`introspection failed: ${JSON.stringify(body.errors)}`);
  return buildClientSchema(body.data);
}

export type RootType = 'Query' | 'Mutation' | 'Subscription';

/** Field names of each root type the schema has (Subscription only when it exists). */
export function rootFieldNames(schema: GraphQLSchema): Partial<Record<RootType, string[]>> {
  const roots: Array<[RootType, GraphQLObjectType | null | undefined]> = [
    ['Query', schema.getQueryType()],
    ['Mutation', schema.getMutationType()],
    ['Subscription', schema.getSubscriptionType()],
  ];
  const names: Partial<Record<RootType, string[]>> = {};
  for (const [root, type] of roots) {
    if (type) names[root] = Object.keys(type.getFields()).sort();
  }
  return names;
}

/**
 * A selection set asking for every field of `typeName` that needs no argument, nested `depth`
 * object levels deep. Queries built from it reach whatever a new field exposes, so a check over
 * their answers ("no secret", "nothing of another organization") covers fields added later too.
 */
export function selectEverything(schema: GraphQLSchema, typeName: string, depth: number): string {
  const type = schema.getType(typeName);
  if (!isObjectType(type)) throw new Error(`${typeName} is not an object type`);
  const parts: string[] = [];
  for (const field of Object.values(type.getFields())) {
    if (field.args.some((arg) => isNonNullType(arg.type) && arg.defaultValue === undefined)) continue;
    const inner = getNamedType(field.type);
    // Small pages keep the query under the server's cost limit while still reaching every type.
    const name = field.args.some((arg) => arg.name === 'first') ? `${field.name}(first: 2)` : field.name;
    if (isObjectType(inner)) {
      if (depth > 0) parts.push(`${name} ${selectEverything(schema, inner.name, depth - 1)}`);
    } else {
      parts.push(field.name);
    }
  }
  return `{ __typename ${parts.join(' ')} }`;
}
