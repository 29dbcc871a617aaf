/**
 * The baselines for the HTTP figures: a bare `node:http` server in its own process, doing the
 * least work that answers the same request.
 *   BASELINE=insert  POST -> one single-row INSERT through a pg.Pool (max 10, as the app's) into
 *                    its own table, then 202 JSON
 *   BASELINE=401     any request -> a constant 401 JSON
 *   BASELINE=select  any request -> the deployments page SELECT (51 rows, newest first, one
 *                    organization) through pg, JSON-encoded, 200
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { serveParent } from './lib/child.js';

const mode = process.env.BASELINE;
const pool = mode === '401' ? null : new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
const organizationId = process.env.ORGANIZATION_ID ?? '';
const UNAUTHORIZED = JSON.stringify({ error: 'unknown service, wrong token or revoked hook' });

function send(res: http.ServerResponse, status: number, payload: string): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
  });
  res.end(payload);
}

const server = http.createServer((req, res) => {
  if (mode === '401') {
    req.resume();
    return send(res, 401, UNAUTHORIZED);
  }
  req.resume();
  req.on('end', () => {
    const work =
      mode === 'insert'
        ? pool!
            .query<{ id: string; created_at: Date }>('insert into bench_hits (id) values ($1) returning id, created_at', [`dep-${randomBytes(16).toString('hex')}`])
            .then(({ rows }) => send(res, 202, JSON.stringify({ id: rows[0]!.id, status: 'queued', createdAt: rows[0]!.created_at.toISOString() })))
        : pool!
            .query('select * from deployments where organization_id = $1 order by created_at desc, id desc limit 51', [organizationId])
            .then(({ rows }) => send(res, 200, JSON.stringify({ data: { deployments: rows.slice(0, 50) } })));
    work.catch(() => send(res, 503, JSON.stringify({ error: 'unavailable' })));
  });
});

const parent = serveParent({}, async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await pool?.end();
});

try {
  if (mode === 'insert') await pool!.query('create table if not exists bench_hits (id text primary key, created_at timestamptz not null default now())');
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  parent.ready({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
} catch (error) {
  parent.failed(error);
}
