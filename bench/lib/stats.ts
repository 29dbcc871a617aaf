/** Percentile of already sorted values (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export interface Distribution {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

export function distribution(values: number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
}

/** Rounds for the report: 3 significant figures, integers kept whole. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 100) return Math.round(value);
  return Number(value.toPrecision(3));
}

export function ratio(value: number, baseline: number): number {
  return baseline === 0 ? Number.NaN : round(value / baseline);
}

export const KB = 1024;
export const MB = 1024 * 1024;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `probe` is true or `timeoutMs` passes; returns whether it became true. */
export async function waitFor(probe: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await sleep(intervalMs);
  }
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once; bounded by `timeoutMs`. */
export async function runPool(count: number, concurrency: number, task: (i: number) => Promise<void>, timeoutMs: number): Promise<{ done: number; failed: number; timedOut: boolean }> {
  let next = 0;
  let done = 0;
  let failed = 0;
  const deadline = Date.now() + timeoutMs;
  const worker = async () => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      try {
        await task(i);
        done++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return { done, failed, timedOut: done + failed < count };
}
