import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** Variables of the app and the cluster that must come from the scenario, never from the caller's shell. */
const SCRUBBED = ['DATABASE_URL', 'KUBECONFIG', 'PORT', 'HOST', 'PUBLIC_URL', 'BOOTSTRAP_ADMIN_TOKEN', 'DATA_DIR', 'LOCAL_TEKTON', 'CLUSTER_PORT', 'CLUSTER_HOST', 'HOOK_RATE_LIMIT', 'AUTH_FAILURE_LIMIT'];
const TAIL_CHARS = 256 * 1024;

export interface ChildHandle {
  name: string;
  child: ChildProcess;
  pid: number;
  /** The last part of what it printed (stdout and stderr); all of it is in the log file. */
  output(): string;
  /** Called with every complete line it prints from now on; returns a function that stops the calls. */
  onLine(listener: (line: string) => void): () => void;
  /** Resolves with the first match of `pattern` in its output (past or future), or rejects after `timeoutMs` or on exit. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  /** Settles once the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  running(): boolean;
  /** SIGKILL if it still runs, then wait for it (bounded). */
  kill(): Promise<void>;
}

/** The uncaught error a crashed Node.js process printed last (its first lines), or its last output. */
export function lastWords(output: string): string {
  const lines = output.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^(\w*Error|error)\b.*:/.test(lines[i]!)) return lines.slice(i, i + 3).join('\n');
  }
  return output.slice(-800);
}

/** Every child started and not yet ended, so an interrupted run can still clean up. */
const live = new Set<ChildHandle>();

/** Kills every child still running (used when the suite is interrupted). */
export function killAllChildren(): void {
  for (const handle of live) {
    try {
      handle.child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Runs `node --import tsx <entry>` from the repository root with exactly `env` added, its output teed to `logFile`. */
export function spawnEntry(name: string, entry: string, args: string[], env: Record<string, string>, logFile: string): ChildHandle {
  const base = { ...process.env };
  for (const variable of SCRUBBED) delete base[variable];
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
    cwd: REPO_ROOT,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: WriteStream = createWriteStream(logFile, { flags: 'a' });
  let tail = '';
  let partial = '';
  const lineListeners = new Set<(line: string) => void>();
  const changeListeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    const text = chunk.toString();
    log.write(text);
    tail = (tail + text).slice(-TAIL_CHARS);
    partial += text;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) for (const listener of lineListeners) listener(line);
    for (const listener of changeListeners) listener();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => {
      ended = true;
      live.delete(handle);
      resolve({ code, signal, at: Date.now() });
    }),
  );
  void exited.then(() => new Promise((resolve) => setTimeout(resolve, 50))).then(() => log.end());

  const handle: ChildHandle = {
    name,
    child,
    pid: child.pid ?? -1,
    output: () => tail,
    onLine(listener) {
      lineListeners.add(listener);
      return () => lineListeners.delete(listener);
    },
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = tail.match(pattern);
          if (!match) return;
          cleanup();
          resolve(match);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name}: no ${pattern} within ${timeoutMs} ms; last output:\n${tail.slice(-3000)}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`${name} exited while waiting for ${pattern}; last output:\n${tail.slice(-3000)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          changeListeners.delete(check);
          child.off('exit', onExit);
        };
        changeListeners.add(check);
        child.once('exit', onExit);
        if (ended) return onExit();
        check();
      });
    },
    exited,
    running: () => !ended,
    async kill() {
      if (ended) return;
      child.kill('SIGKILL');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    },
  };
  live.add(handle);
  return handle;
}
