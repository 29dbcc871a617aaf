import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';

/** A graphql-ws client with retries off, authenticated through connection_init. */
export function wsClient(httpUrl: string, token: string | null, options: { lazy?: boolean } = {}): Client {
  return createClient({
    url: `${httpUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: options.lazy ?? true,
  });
}

/** Collects every result of one subscription until it completes (or errors). */
export async function collect<T = any>(client: Client, query: string, variables: Record<string, unknown>, onFirst?: () => void): Promise<{ results: FormattedExecutionResult<T, unknown>[]; error?: unknown }> {
  const results: FormattedExecutionResult<T, unknown>[] = [];
  return new Promise((resolve) => {
    let first = true;
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => {
          results.push(value);
          if (first) {
            first = false;
            onFirst?.();
          }
        },
        error: (error) => resolve({ results, error }),
        complete: () => resolve({ results }),
      },
    );
  });
}

/** A raw WebSocket speaking graphql-transport-ws, for protocol-level checks. */
export async function rawSocket(httpUrl: string): Promise<{ ws: WebSocket; messages: any[]; closed: Promise<{ code: number; reason: string }>; send(m: unknown): void; next(): Promise<any> }> {
  const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const messages: any[] = [];
  const waiters: Array<(m: any) => void> = [];
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString());
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else messages.push(message);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ws,
    messages,
    closed,
    send: (m) => ws.send(typeof m === 'string' ? m : JSON.stringify(m)),
    next: () => (messages.length ? Promise.resolve(messages.shift()) : new Promise((resolve) => waiters.push(resolve))),
  };
}
