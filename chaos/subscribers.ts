import WebSocket from 'ws';

/** One status event as a subscriber received it. */
export interface ReceivedEvent {
  deploymentId: string;
  sequence: number;
  status: string;
}

/** How a subscription or stream ended, as its client saw it. */
export interface StreamEnd {
  /** 'complete': the server completed it; 'closed': the connection closed (code for WebSocket); 'error': it failed. */
  how: 'complete' | 'closed' | 'error';
  code?: number;
  detail?: string;
  at: number;
}

export interface Subscriber {
  events: ReceivedEvent[];
  /** Settles when the subscription ends, however it ends. */
  ended: Promise<StreamEnd>;
  isEnded(): boolean;
  close(): void;
}

export const SERVICE_EVENTS = 'subscription($id: ID!) { deploymentEvents(serviceId: $id) { deploymentId sequence status } }';
export const DEPLOYMENT_EVENTS = 'subscription($id: ID!) { deploymentStatusChanged(id: $id) { deploymentId sequence status } }';

function eventOf(payload: unknown): ReceivedEvent | null {
  const data = (payload as { data?: Record<string, ReceivedEvent> } | undefined)?.data;
  if (!data) return null;
  return data.deploymentEvents ?? data.deploymentStatusChanged ?? null;
}

/**
 * A raw graphql-transport-ws socket (the graphql-ws protocol) with one subscription per entry of
 * `operations`, so what the server sends, completes and closes with is seen exactly.
 */
export interface WsConnection {
  subscriptions: Subscriber[];
  /** The socket's close, with its code. */
  closed: Promise<StreamEnd>;
  close(): void;
}

export async function openWsSubscriptions(
  httpUrl: string,
  token: string,
  operations: Array<{ query: string; variables: Record<string, unknown> }>,
  timeoutMs = 10_000,
): Promise<WsConnection> {
  const ws = new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const subscriptions = operations.map(() => {
    let settle!: (end: StreamEnd) => void;
    let done = false;
    const sub: Subscriber & { settle(end: StreamEnd): void } = {
      events: [],
      ended: new Promise<StreamEnd>((resolve) => (settle = resolve)),
      isEnded: () => done,
      close: () => ws.close(1000),
      settle(end) {
        if (done) return;
        done = true;
        settle(end);
      },
    };
    return sub;
  });
  let acked!: () => void;
  let refused!: (error: Error) => void;
  const ack = new Promise<void>((resolve, reject) => {
    acked = resolve;
    refused = reject;
  });
  const closed = new Promise<StreamEnd>((resolve) =>
    ws.on('close', (code, reason) => {
      const end: StreamEnd = { how: 'closed', code, detail: reason.toString(), at: Date.now() };
      for (const sub of subscriptions) sub.settle(end);
      refused(new Error(`socket closed (${code}) before connection_ack`));
      resolve(end);
    }),
  );
  ws.on('error', (error) => refused(error));
  ws.on('message', (data) => {
    let message: { type: string; id?: string; payload?: unknown };
    try {
      message = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (message.type === 'connection_ack') return acked();
    if (message.type === 'ping') return ws.send(JSON.stringify({ type: 'pong' }));
    const sub = subscriptions[Number(message.id)];
    if (!sub) return;
    if (message.type === 'next') {
      const event = eventOf(message.payload);
      if (event) sub.events.push(event);
    } else if (message.type === 'complete') {
      sub.settle({ how: 'complete', at: Date.now() });
    } else if (message.type === 'error') {
      sub.settle({ how: 'error', detail: JSON.stringify(message.payload), at: Date.now() });
    }
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  const timer = setTimeout(() => refused(new Error('no connection_ack in time')), timeoutMs);
  try {
    await ack;
  } finally {
    clearTimeout(timer);
  }
  operations.forEach((operation, index) => ws.send(JSON.stringify({ type: 'subscribe', id: String(index), payload: operation })));
  return { subscriptions, closed, close: () => ws.terminate() };
}

/** Reads a text/event-stream response block by block, calling `onEvent` for each (comments skipped). */
async function readEventStream(res: Response, onEvent: (event: string, data: string) => void): Promise<void> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let boundary = buffer.indexOf('\n\n');
    while (boundary >= 0) {
      const block = buffer.slice(0, boundary);
      buffer = buffer.slice(boundary + 2);
      boundary = buffer.indexOf('\n\n');
      if (!block.trim() || block.startsWith(':')) continue;
      const event = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
      const data = block
        .split('\n')
        .filter((line) => line.startsWith('data:'))
        .map((line) => line.replace(/^data: ?/, ''))
        .join('\n');
      onEvent(event, data);
    }
  }
}

function sseSubscriber(open: (signal: AbortSignal) => Promise<Response>, toEvent: (event: string, data: string) => ReceivedEvent | 'complete' | null): Promise<Subscriber & { status: number }> {
  const controller = new AbortController();
  const events: ReceivedEvent[] = [];
  let done = false;
  return open(controller.signal).then((res) => {
    let completed = false;
    const ended = readEventStream(res, (event, data) => {
      const parsed = toEvent(event, data);
      if (parsed === 'complete') completed = true;
      else if (parsed) events.push(parsed);
    }).then(
      (): StreamEnd => ({ how: completed ? 'complete' : 'closed', at: Date.now() }),
      (error: unknown): StreamEnd => ({ how: 'error', detail: error instanceof Error ? `${error.name}: ${error.message}` : String(error), at: Date.now() }),
    );
    void ended.then(() => (done = true));
    return { status: res.status, events, ended, isEnded: () => done, close: () => controller.abort() };
  });
}

/** A GraphQL subscription over SSE (`Accept: text/event-stream` on /graphql). */
export function openSseSubscription(httpUrl: string, token: string, query: string, variables: Record<string, unknown>): Promise<Subscriber & { status: number }> {
  return sseSubscriber(
    (signal) =>
      fetch(`${httpUrl}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query, variables }),
        signal,
      }),
    (event, data) => {
      if (event === 'complete') return 'complete';
      if (event !== 'next') return null;
      try {
        return eventOf(JSON.parse(data));
      } catch {
        return null;
      }
    },
  );
}

/** The hook route's follow mode: POST with `Accept: text/event-stream`; the 202 arrives as the stream's first event. */
export function followHook(hookUrl: string, branch: string): Promise<Subscriber & { status: number; deploymentId: Promise<string> }> {
  let resolveId!: (id: string) => void;
  const deploymentId = new Promise<string>((resolve) => (resolveId = resolve));
  const url = new URL(hookUrl);
  url.searchParams.set('branch', branch);
  return sseSubscriber(
    (signal) => fetch(url, { method: 'POST', headers: { accept: 'text/event-stream' }, signal }),
    (event, data) => {
      try {
        const body = JSON.parse(data) as { id: string; sequence?: number; status: string };
        if (event === 'deployment') resolveId(body.id);
        if (event === 'status') return { deploymentId: body.id, sequence: body.sequence!, status: body.status.toUpperCase() };
      } catch {
        return null;
      }
      return null;
    },
  ).then((sub) => ({ ...sub, deploymentId }));
}

/** Events per deployment, in the order received. */
export function byDeployment(events: ReceivedEvent[]): Map<string, ReceivedEvent[]> {
  const map = new Map<string, ReceivedEvent[]>();
  for (const event of events) map.set(event.deploymentId, [...(map.get(event.deploymentId) ?? []), event]);
  return map;
}
