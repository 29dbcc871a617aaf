import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHook, createService, eventually, startTestApp, type TestApp } from './support/app.js';
import { rawSocket } from './support/graphql-ws.js';

/**
 * A replica shutting down (SIGTERM runs app.stop()) cuts its live streams short. Each must say so
 * before it ends, in a way no client can take for the deployment's outcome: GraphQL over
 * WebSocket and SSE with a last error, the hook's follow mode with an `error` event.
 */

const FOLLOW = `subscription($id: ID!) {
  deploymentStatusChanged(id: $id) { deploymentId sequence status }
}`;

/** A text/event-stream response read as it arrives; `ended` resolves with all its events. */
function eventStream(res: Response) {
  let text = '';
  const events = () =>
    text
      .split('\n\n')
      .filter((block) => block.trim() && !block.startsWith(':'))
      .map((block) => {
        const data = /^data: ?(.*)$/m.exec(block)?.[1];
        return { event: /^event: (.*)$/m.exec(block)?.[1] ?? 'message', data: data ? JSON.parse(data) : null };
      });
  const ended = (async () => {
    const decoder = new TextDecoder();
    const reader = res.body!.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += decoder.decode(chunk.value, { stream: true });
    return events();
  })();
  return { events, ended };
}

let t: TestApp;
let hook: { url: string };
let stopped = false;

beforeAll(async () => {
  // Nothing advances a PipelineRun: every deployment stays QUEUED, so every stream stays open.
  t = await startTestApp({ LOCAL_TEKTON: 'off' });
  const serviceId = await createService(t, t.adminToken, 'draining');
  hook = await createHook(t, t.adminToken, serviceId);
});
afterAll(async () => {
  if (!stopped) await t?.stop();
});

describe('shutting down with streams open', () => {
  it('tells every stream why it ends: an error on GraphQL (WebSocket, then 1001; SSE), an error event on the follow stream', async () => {
    const trigger = async () => (await (await fetch(hook.url, { method: 'POST' })).json()).id as string;
    const [overWs, overSse] = [await trigger(), await trigger()];

    const ws = await rawSocket(t.app.url);
    ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${t.adminToken}` } });
    expect((await ws.next()).type).toBe('connection_ack');
    ws.send({ type: 'subscribe', id: 'op', payload: { query: FOLLOW, variables: { id: overWs } } });
    const firstWs = await ws.next();
    expect(firstWs.payload.data.deploymentStatusChanged.status).toBe('QUEUED');

    const sse = eventStream(
      await fetch(`${t.app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${t.adminToken}` },
        body: JSON.stringify({ query: FOLLOW, variables: { id: overSse } }),
      }),
    );
    const followRes = await fetch(hook.url, { method: 'POST', headers: { accept: 'text/event-stream' } });
    expect(followRes.status).toBe(202);
    const follow = eventStream(followRes);
    await eventually(async () => (sse.events().length === 1 && follow.events().length === 2 ? true : undefined), 5_000, 'both streams to start');

    stopped = true;
    const stopping = t.stop();
    const [sseEvents, followEvents, closed] = await Promise.all([sse.ended, follow.ended, ws.closed]);
    await stopping;

    // WebSocket: the last result is an error saying why and from where to resume, then complete, then 1001.
    expect(ws.messages.map((m) => m.type)).toEqual(['next', 'complete']);
    const last = ws.messages[0].payload;
    expect(last.data).toBeNull();
    expect(last.errors).toHaveLength(1);
    expect(last.errors[0].extensions).toEqual({ code: 'SHUTTING_DOWN', afterSequence: 1 });
    expect(last.errors[0].message).toMatch(/server is shutting down.*subscribe again.*afterSequence/);
    expect(ws.messages[1].id).toBe('op');
    expect(closed.code).toBe(1001);

    // SSE: the same error as a last `next`, before `complete`.
    expect(sseEvents.map((e) => e.event)).toEqual(['next', 'next', 'complete']);
    expect(sseEvents[0]!.data.data.deploymentStatusChanged.status).toBe('QUEUED');
    expect(sseEvents[1]!.data.data).toBeNull();
    expect(sseEvents[1]!.data.errors.map((e: any) => e.extensions.code)).toEqual(['SHUTTING_DOWN']);

    // Follow mode: after `status: queued`, an `error` event that is not a status.
    expect(followEvents.map((e) => e.event)).toEqual(['deployment', 'status', 'error']);
    const deploymentId = followEvents[0]!.data.id;
    expect(followEvents[1]!.data.status).toBe('queued');
    expect(followEvents[2]!.data).toEqual({ error: 'server shutting down', code: 'SHUTTING_DOWN', id: deploymentId, lastSequence: 1 });
  });
});
