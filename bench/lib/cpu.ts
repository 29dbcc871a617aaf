import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of whole process trees from /proc (Linux), so that a figure can say where the two
 * cores went: the app, PostgreSQL (the postmaster and every backend, exited ones included through
 * the postmaster's reaped-children counters), the local cluster, the baseline server, the load
 * generator. Clock ticks are 10 ms; a few-second window is precise to about 1%.
 */
const TICK_MS = 10;

interface ProcStat {
  pid: number;
  ppid: number;
  ownMs: number;
  reapedMs: number;
}

function readStat(pid: number): ProcStat | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may contain spaces and parentheses: fields start after the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(fields[i - 3]);
    return { pid, ppid: n(4), ownMs: (n(14) + n(15)) * TICK_MS, reapedMs: (n(16) + n(17)) * TICK_MS };
  } catch {
    return null;
  }
}

/** CPU milliseconds used so far by each root's process tree (itself, live descendants, reaped children). */
export function treeCpuMs(roots: Record<string, number | null | undefined>): Record<string, number> {
  const all: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) all.push(stat);
  }
  const children = new Map<number, ProcStat[]>();
  for (const stat of all) {
    const list = children.get(stat.ppid) ?? [];
    list.push(stat);
    children.set(stat.ppid, list);
  }
  const byPid = new Map(all.map((s) => [s.pid, s]));
  const result: Record<string, number> = {};
  for (const [name, pid] of Object.entries(roots)) {
    if (!pid || !byPid.has(pid)) continue;
    let total = 0;
    const stack = [byPid.get(pid)!];
    while (stack.length) {
      const stat = stack.pop()!;
      total += stat.ownMs + stat.reapedMs;
      stack.push(...(children.get(stat.pid) ?? []));
    }
    result[name] = total;
  }
  return result;
}

/** The difference of two treeCpuMs readings, per request (microseconds). */
export function cpuPerRequestMicros(before: Record<string, number>, after: Record<string, number>, requests: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of Object.keys(after)) {
    if (before[name] === undefined) continue;
    out[name] = requests > 0 ? Math.round(((after[name]! - before[name]!) * 1000) / requests) : 0;
  }
  return out;
}
