/**
 * The baseline for the fan-out figures: a bare `ws` server in its own process. `POST /broadcast`
 * sends one message of the size of the app's status event to every connected socket; IPC `stats`
 * reports memory after GC.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { serveParent, settledMemory } from './lib/child.js';

const server = http.createServer((req, res) => {
  req.resume();
  if (req.url !== '/broadcast') {
    res.writeHead(404).end();
    return;
  }
  const message = JSON.stringify({
    id: '1',
    type: 'next',
    payload: {
      data: {
        deploymentStatusChanged: {
          deploymentId: 'dep-aaaaaaaaaaaaaaaaaaaaaaaaaa',
          sequence: 2,
          status: 'RUNNING',
          previousStatus: 'QUEUED',
          reason: 'Running',
          at: new Date().toISOString(),
        },
      },
    },
  });
  for (const client of wss.clients) client.send(message);
  res.writeHead(204).end();
});
const wss = new WebSocketServer({ server, path: '/graphql' });

const parent = serveParent(
  {
    async stats() {
      return { memory: await settledMemory(), clients: wss.clients.size };
    },
  },
  async () => {
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  },
);

server.listen(0, '127.0.0.1', () => parent.ready({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
