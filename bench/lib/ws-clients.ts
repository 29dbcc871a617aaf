import WebSocket from 'ws';

/**
 * Raw `graphql-transport-ws` clients: the protocol done by hand (connection_init, subscribe) on
 * plain `ws` sockets, so that the load generator spends as little as possible per socket while
 * the app still does the whole graphql-ws work (auth on init, parse, validate, context,
 * subscribe, execute per event).
 */
export interface Subscriber {
  ws: WebSocket;
  /** performance.now() when the awaited event arrived; null until then. */
  receivedAt: number | null;
}

const RUNNING = Buffer.from('"RUNNING"');

function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/graphql`;
}

/**
 * Connects, authenticates and subscribes; resolves once the first `next` (the current state)
 * has arrived. After that, the first message that mentions RUNNING stamps `receivedAt`.
 */
export function openSubscriber(httpUrl: string, token: string, query: string, variables: Record<string, unknown>, timeoutMs: number): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(httpUrl), 'graphql-transport-ws', { perMessageDeflate: false });
    const subscriber: Subscriber = { ws, receivedAt: null };
    let subscribed = false;
    const fail = (why: string) => {
      clearTimeout(timer);
      ws.terminate();
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail('timed out subscribing'), timeoutMs);
    ws.on('error', (error) => {
      if (!subscribed) fail(error.message);
    });
    ws.on('close', (code) => {
      if (!subscribed) fail(`closed ${code} before the first event`);
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    ws.on('message', (data: Buffer) => {
      if (subscribed) {
        if (subscriber.receivedAt === null && data.indexOf(RUNNING) !== -1) subscriber.receivedAt = performance.now();
        return;
      }
      const message = JSON.parse(data.toString()) as { type: string };
      if (message.type === 'connection_ack') {
        ws.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query, variables } }));
      } else if (message.type === 'next') {
        subscribed = true;
        clearTimeout(timer);
        resolve(subscriber);
      } else if (message.type === 'error' || message.type === 'complete') {
        fail(`subscription ended early: ${data.toString().slice(0, 200)}`);
      } else if (message.type === 'ping') {
        ws.send('{"type":"pong"}');
      }
    });
  });
}

/** A plain WebSocket for the bare `ws` baseline: stamps the first message that arrives. */
export function openPlain(httpUrl: string, timeoutMs: number): Promise<Subscriber> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(httpUrl), { perMessageDeflate: false });
    const subscriber: Subscriber = { ws, receivedAt: null };
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('timed out connecting'));
    }, timeoutMs);
    ws.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    ws.on('open', () => {
      clearTimeout(timer);
      resolve(subscriber);
    });
    ws.on('message', (data: Buffer) => {
      if (subscriber.receivedAt === null && data.indexOf(RUNNING) !== -1) subscriber.receivedAt = performance.now();
    });
  });
}

/** Closes sockets in slices, so the other side sees a steady stream of closes rather than one burst. */
export async function closeAll(subscribers: Subscriber[], how: 'close' | 'terminate' = 'terminate'): Promise<void> {
  for (let i = 0; i < subscribers.length; i += 500) {
    for (const s of subscribers.slice(i, i + 500)) {
      if (how === 'close') s.ws.close();
      else s.ws.terminate();
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}
