/**
 * The load process of a chaos scenario: POSTs hook calls and appends every answer, the moment it
 * arrives, to a file (synchronously), so what the client saw survives whatever happens to the app.
 *
 *   node --import tsx chaos/load.ts '<LoadPlan as JSON>'
 *
 * Prints `progress {...}` lines, `slow-started` once every slow call has sent its headers and first
 * chunk, and `finished {...}` before it exits. SIGTERM ends it early but cleanly: no new call starts,
 * the calls in flight are recorded.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { branchFor, FOLLOW_UP_INDEX_BASE, SLOW_INDEX_BASE, type LoadPlan, type LoadRecord } from './load-records.js';
/** Whatever the plan says, the process ends after this long. */
const HARD_LIMIT_MS = 10 * 60_000;

const plan = JSON.parse(process.argv[2] ?? '{}') as LoadPlan;
if (!plan.url || !plan.out || !(plan.concurrency > 0) || !(plan.timeoutMs > 0)) {
  process.stderr.write('usage: load.ts <LoadPlan JSON with url, out, concurrency, timeoutMs>\n');
  process.exit(2);
}
setTimeout(() => {
  process.stderr.write('load: hard time limit reached\n');
  process.exit(3);
}, HARD_LIMIT_MS).unref();

const fd = openSync(plan.out, 'a');
const startedAt = Date.now();
const agent = new http.Agent({ keepAlive: true, maxSockets: plan.concurrency });
const tally = { done: 0, accepted: 0, unavailable: 0, errors: 0, other: 0, timeouts: 0 };

function record(entry: LoadRecord): void {
  writeSync(fd, `${JSON.stringify(entry)}\n`);
  tally.done += 1;
  if (entry.s === 202) tally.accepted += 1;
  else if (entry.s === 503) tally.unavailable += 1;
  else if (entry.s === null) {
    tally.errors += 1;
    if (entry.e === 'TIMEOUT') tally.timeouts += 1;
  } else tally.other += 1;
}

interface Answer {
  status: number | null;
  id?: string;
  retryAfter?: string;
  error?: string;
}

/** One POST; resolves with the answer or the error code, never rejects. */
function post(branch: string, slow: { bodyMs: number; onFirstChunk: () => void } | null, via: http.Agent = agent): Promise<Answer> {
  return new Promise((resolve) => {
    const url = new URL(plan.url);
    url.searchParams.set('branch', branch);
    let settled = false;
    const finish = (answer: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const req = http.request(url, {
      method: 'POST',
      agent: via,
      headers: slow ? { 'transfer-encoding': 'chunked', 'content-type': 'application/octet-stream' } : { 'content-length': '0' },
    });
    const timer = setTimeout(() => {
      finish({ status: null, error: 'TIMEOUT' });
      req.destroy();
    }, plan.timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => finish({ status: null, error: error.code ?? error.message }));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', (error: NodeJS.ErrnoException) => finish({ status: null, error: error.code ?? 'RESPONSE_ABORTED' }));
      res.on('aborted', () => finish({ status: null, error: 'RESPONSE_ABORTED' }));
      res.on('end', () => {
        let id: string | undefined;
        if (res.statusCode === 202) {
          try {
            id = (JSON.parse(Buffer.concat(chunks).toString()) as { id?: string }).id;
          } catch {
            id = undefined;
          }
        }
        const retryAfter = res.headers['retry-after'];
        finish({ status: res.statusCode ?? null, id, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined });
      });
    });
    if (!slow) {
      req.end();
      return;
    }
    // Headers and a first chunk now, the rest over bodyMs: the call is in flight all that time.
    const chunk = Buffer.alloc(512, 'x');
    const pieces = 10;
    let sent = 0;
    req.flushHeaders();
    const writeNext = () => {
      if (settled || req.destroyed) return;
      sent += 1;
      if (sent > pieces) return void req.end();
      req.write(chunk, () => {
        if (sent === 1) slow.onFirstChunk();
      });
      setTimeout(writeNext, slow.bodyMs / pieces);
    };
    writeNext();
  });
}

/** Returns whether the last attempt got an answer at all. */
async function call(index: number, slow: { bodyMs: number; onFirstChunk: () => void } | null, via: http.Agent = agent): Promise<boolean> {
  const branch = branchFor(plan, index);
  const maxAttempts = plan.retry?.maxAttempts ?? 1;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const t0 = Date.now();
    const answer = await post(branch, attempt === 1 ? slow : null, via);
    const entry: LoadRecord = { i: index, a: attempt, t0, t1: Date.now(), s: answer.status, b: branch };
    if (slow) entry.slow = true;
    if (answer.id) entry.id = answer.id;
    if (answer.retryAfter) entry.ra = answer.retryAfter;
    if (answer.error) entry.e = answer.error;
    record(entry);
    const again =
      (answer.error === 'ECONNREFUSED' && plan.retry?.refused) || (answer.status === 503 && plan.retry?.unavailable);
    if (!again || Date.now() - startedAt > HARD_LIMIT_MS / 2) return answer.status !== null;
    await sleep(plan.retry!.delayMs);
  }
  return false;
}

// SIGTERM: start no new call, let those in flight finish (their answers are recorded), then exit.
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});

let nextIndex = 0;
function takeIndex(): number | null {
  if (stopping) return null;
  if (plan.count !== undefined && nextIndex >= plan.count) return null;
  if (plan.durationMs !== undefined && Date.now() - startedAt >= plan.durationMs) return null;
  return nextIndex++;
}

async function worker(): Promise<void> {
  for (let index = takeIndex(); index !== null; index = takeIndex()) {
    const answered = await call(index, null);
    // Like any client, it does not spin against a server that is not there.
    const pause = Math.max(plan.intervalMs ?? 0, answered ? 0 : 50);
    if (pause > 0) await sleep(pause);
  }
}

const progress = setInterval(() => process.stdout.write(`progress ${JSON.stringify(tally)}\n`), plan.progressMs ?? 100);

const slowCount = plan.slow?.count ?? 0;
let slowStarted = 0;
const slowCalls = Array.from({ length: slowCount }, async (_, k) => {
  // Its own keep-alive connection: the follow-up goes out on it if the server keeps it open.
  const own = new http.Agent({ keepAlive: true, maxSockets: 1 });
  await call(
    SLOW_INDEX_BASE + k,
    {
      bodyMs: plan.slow!.bodyMs,
      onFirstChunk: () => {
        slowStarted += 1;
        if (slowStarted === slowCount) process.stdout.write('slow-started\n');
      },
    },
    own,
  );
  await call(FOLLOW_UP_INDEX_BASE + k, null, own);
  own.destroy();
});
await Promise.all([...slowCalls, ...Array.from({ length: plan.concurrency }, () => worker())]);

clearInterval(progress);
closeSync(fd);
agent.destroy();
process.stdout.write(`progress ${JSON.stringify(tally)}\nfinished ${JSON.stringify({ ...tally, ms: Date.now() - startedAt })}\n`);
process.exit(0);
