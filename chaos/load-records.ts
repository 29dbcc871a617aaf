import { readFileSync } from 'node:fs';

/** What the load process is asked to do (passed as JSON in its first argument). */
export interface LoadPlan {
  /** The hook URL to POST to. */
  url: string;
  /** Where every answer (and every error) is appended, one JSON line each, as it happens. */
  out: string;
  /** Stop after this many calls (each call index is used once, whatever its retries). */
  count?: number;
  /** Start no new call after this long. */
  durationMs?: number;
  concurrency: number;
  /** Pause of each worker between two calls. */
  intervalMs?: number;
  /** Every call names its own branch `chaos/<tag>-<index>`, so a row can be traced to the call that made it. */
  tag: string;
  /** Every n-th call asks for a failing build instead (branch `simulate/fail`). */
  failEvery?: number;
  /** Calls that were never delivered (connection refused) or answered 503 are tried again, up to maxAttempts. */
  retry?: { refused: boolean; unavailable: boolean; maxAttempts: number; delayMs: number };
  /** A call without an answer after this long is abandoned and recorded as a time-out. */
  timeoutMs: number;
  /**
   * Calls whose body is sent slowly, in chunks over bodyMs, so they are in flight for that long; each
   * on a keep-alive connection of its own, on which one more call follows at once once it is answered.
   */
  slow?: { count: number; bodyMs: number };
  /** How often progress is printed on stdout. */
  progressMs?: number;
}

/** Slow calls use indices from here, apart from the ordinary ones. */
export const SLOW_INDEX_BASE = 1_000_000;
/** The call that follows each slow one on its connection. */
export const FOLLOW_UP_INDEX_BASE = 2_000_000;

/** One attempt of one call, as the client saw it. */
export interface LoadRecord {
  /** Call index. */
  i: number;
  /** Attempt number, from 1. */
  a: number;
  /** A slow-body call. */
  slow?: true;
  /** Epoch ms when the attempt started and ended. */
  t0: number;
  t1: number;
  /** HTTP status, or null when no answer arrived. */
  s: number | null;
  /** The deployment id of a 202. */
  id?: string;
  /** The Retry-After header, if any. */
  ra?: string;
  /** The error code when no answer arrived (ECONNREFUSED, ECONNRESET, TIMEOUT, ...). */
  e?: string;
  /** The branch the call asked for. */
  b: string;
}

/** The branch the load process gives call `index`. */
export function branchFor(plan: Pick<LoadPlan, 'tag' | 'failEvery'>, index: number): string {
  if (plan.failEvery && index % plan.failEvery === 0) return 'simulate/fail';
  return `chaos/${plan.tag}-${index}`;
}

/** Index encoded in a branch made by branchFor, or null. */
export function indexOfBranch(tag: string, branch: string): number | null {
  const prefix = `chaos/${tag}-`;
  if (!branch.startsWith(prefix)) return null;
  const index = Number(branch.slice(prefix.length));
  return Number.isInteger(index) ? index : null;
}

/** An attempt that got no answer: was the request possibly delivered? Only a refused connection proves it was not. */
export function possiblyDelivered(record: LoadRecord): boolean {
  return record.s === null && record.e !== 'ECONNREFUSED';
}

export function readLoadRecords(file: string): LoadRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const records: LoadRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      records.push(JSON.parse(line) as LoadRecord);
    } catch {
      // A line cut short by a killed writer: everything before it is intact.
    }
  }
  return records;
}

/** Per call: every attempt in order, and the last one. */
export interface CallOutcome {
  index: number;
  attempts: LoadRecord[];
  final: LoadRecord;
}

export function callOutcomes(records: LoadRecord[]): Map<number, CallOutcome> {
  const calls = new Map<number, CallOutcome>();
  for (const record of records) {
    const call = calls.get(record.i);
    if (call) {
      call.attempts.push(record);
      if (record.a >= call.final.a) call.final = record;
    } else {
      calls.set(record.i, { index: record.i, attempts: [record], final: record });
    }
  }
  return calls;
}
