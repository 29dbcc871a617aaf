import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { getOperationAST, print } from 'graphql';
import { CliError, UsageError } from './exit-codes.js';
import { errorMessage, fetchWithRetry, RequestRefused, USER_AGENT } from './http.js';

export interface GraphQLClientProps {
  /** The server's base URL (`https://deploy.example.com`); `/graphql` is added unless it is there. */
  apiUrl: string;
  token: string;
  onRetry?: (why: string, waitSeconds: number) => void;
}

/** Reads as "nothing ran": the request was refused before the operation executed. */
const QUERY_RETRY_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);
const MUTATION_RETRY_STATUSES: ReadonlySet<number> = new Set([429]);

/** The CLI's GraphQL client: typed documents from src/graphql/generated.ts over plain fetch. */
export class GraphQLClient {
  private readonly endpoint: URL;

  constructor(private readonly props: GraphQLClientProps) {
    this.endpoint = graphqlEndpoint(props.apiUrl);
  }

  /**
   * Runs one operation and returns its data. Any GraphQL error fails the command with the server's
   * message: these commands never want partial data. Queries are retried when the server asks to
   * wait or is unavailable; mutations only when refused before running (429), so none runs twice.
   */
  async request<TResult, TVariables extends Record<string, unknown>>(
    document: TypedDocumentNode<TResult, TVariables>,
    variables: TVariables,
  ): Promise<TResult> {
    const operation = getOperationAST(document);
    const isQuery = operation?.operation === 'query';
    const body = JSON.stringify({ query: print(document), operationName: operation?.name?.value, variables });
    const response = await fetchWithRetry(
      () =>
        fetch(this.endpoint, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/graphql-response+json, application/json',
            authorization: `Bearer ${this.props.token}`,
            'user-agent': USER_AGENT,
          },
          body,
        }),
      {
        retries: isQuery ? 3 : 2,
        retryNetworkErrors: isQuery,
        retryStatuses: isQuery ? QUERY_RETRY_STATUSES : MUTATION_RETRY_STATUSES,
        onRetry: this.props.onRetry,
      },
    );
    const text = await response.clone().text();
    let result: { data?: TResult | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
    try {
      result = JSON.parse(text);
    } catch {
      throw new RequestRefused(`${this.endpoint.href} answered HTTP ${response.status} without a GraphQL result: ${await errorMessage(response)}`, response.status);
    }
    if (result.errors?.length) {
      const messages = result.errors.map((e) => (e.extensions?.code ? `${e.message} (${e.extensions.code})` : e.message));
      // Input the server refused is the caller's to fix, like a bad flag: the usage exit code.
      const badInput = result.errors.some((e) => e.extensions?.code === 'BAD_USER_INPUT');
      throw new RequestRefused(messages.join('; '), badInput ? 400 : response.status);
    }
    if (!response.ok || result.data == null) throw new CliError(`${this.endpoint.href} answered HTTP ${response.status} with no data`);
    return result.data;
  }
}

export function graphqlEndpoint(apiUrl: string): URL {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new UsageError(`--api is not a URL: ${apiUrl}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError('--api must be an http:// or https:// URL');
  if (!url.pathname.replace(/\/+$/, '').endsWith('/graphql')) {
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/graphql`;
  }
  url.search = '';
  url.hash = '';
  return url;
}
