import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A request to a child started with `startChild`, and its answer. */
export interface RpcRequest {
  rpc: number;
  command: string;
  args?: unknown;
}
export type RpcReply = { rpc: number; result: unknown } | { rpc: number; error: string };

export interface Child<Ready> {
  process: ChildProcess;
  ready: Ready;
  /** Sends a command over IPC and waits (bounded) for its answer. */
  call<T = unknown>(command: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** Asks the child to stop cleanly (so a CPU profile is written), then kills it if it does not. */
  stop(): Promise<void>;
}

export interface StartChildOptions {
  env?: Record<string, string>;
  /** Writes a V8 CPU profile of the child to this directory when it exits. */
  cpuProfileDir?: string | null;
  readyTimeoutMs?: number;
  /** The child's stdout goes to this file (the app's JSON log) instead of our stderr. */
  stdoutFile?: string;
}

const live = new Set<ChildProcess>();
/** Children are killed if the benchmark itself dies or is interrupted. */
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/**
 * Starts `bench/<script>` in its own Node process (its own event loop, GC exposed) with IPC. The
 * child announces itself with `{ ready: ... }`; its stdout goes to our stderr so that our stdout
 * holds only the report.
 */
export async function startChild<Ready>(script: string, options: StartChildOptions = {}): Promise<Child<Ready>> {
  const execArgv = ['--expose-gc', '--import', 'tsx'];
  if (options.cpuProfileDir) {
    mkdirSync(options.cpuProfileDir, { recursive: true });
    execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  }
  const path = fileURLToPath(new URL(`../${script}`, import.meta.url));
  const logFd = options.stdoutFile ? openSync(options.stdoutFile, 'a') : null;
  const child = fork(path, [], {
    execArgv,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', logFd ?? 'pipe', 'inherit', 'ipc'],
  });
  if (logFd !== null) closeSync(logFd);
  live.add(child);
  child.stdout?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));

  let nextRpc = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let readyResolve!: (value: Ready) => void;
  let readyReject!: (error: Error) => void;
  const ready = new Promise<Ready>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  child.on('message', (message: { ready?: Ready; failed?: string } & Partial<RpcReply>) => {
    if (message.ready !== undefined) return readyResolve(message.ready);
    if (message.failed !== undefined) return readyReject(new Error(`${script}: ${message.failed}`));
    const waiter = typeof message.rpc === 'number' ? pending.get(message.rpc) : undefined;
    if (!waiter) return;
    pending.delete(message.rpc!);
    if ('error' in message && message.error !== undefined) waiter.reject(new Error(`${script}: ${message.error}`));
    else waiter.resolve((message as { result: unknown }).result);
  });
  void exited.then(() => {
    readyReject(new Error(`${script} exited before it was ready`));
    for (const waiter of pending.values()) waiter.reject(new Error(`${script} exited`));
    pending.clear();
  });

  const readyValue = await withDeadline(ready, options.readyTimeoutMs ?? 60_000, `${script} to start`).catch((error) => {
    child.kill('SIGKILL');
    throw error;
  });

  const call = <T>(command: string, args?: unknown, timeoutMs = 120_000): Promise<T> => {
    const rpc = nextRpc++;
    const answer = new Promise<unknown>((resolve, reject) => pending.set(rpc, { resolve, reject }));
    child.send({ rpc, command, args } satisfies RpcRequest);
    return withDeadline(answer, timeoutMs, `${script} to answer ${command}`) as Promise<T>;
  };

  let stopping: Promise<void> | null = null;
  return {
    process: child,
    ready: readyValue,
    call,
    stop: () =>
      (stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.send({ rpc: 0, command: 'exit' } satisfies RpcRequest);
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(timer);
      })()),
  };
}

/** Resolves as `promise` does, or rejects once `ms` have passed. */
export function withDeadline<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/**
 * The child's side: announces `ready`, answers commands with `handlers` (and `cpu`), and on `exit` runs
 * `onExit` and exits 0 (a CPU profile, if asked for, is written then).
 */
export function serveParent(handlers: Record<string, (args: any) => unknown>, onExit: () => Promise<void>): {
  ready(value: unknown): void;
  failed(error: unknown): void;
} {
  const send = (message: unknown) => process.send?.(message);
  let exiting = false;
  process.on('message', (message: RpcRequest) => {
    if (message.command === 'exit') {
      if (exiting) return;
      exiting = true;
      void onExit()
        .catch((error) => process.stderr.write(`stop failed: ${String(error)}\n`))
        .finally(() => process.exit(0));
      return;
    }
    // Every child reports its own CPU time (microseconds, user + system) for per-operation figures.
    const handler = message.command === 'cpu' ? () => process.cpuUsage() : handlers[message.command];
    if (!handler) return send({ rpc: message.rpc, error: `unknown command ${message.command}` });
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (result) => send({ rpc: message.rpc, result: result ?? null }),
        (error: unknown) => send({ rpc: message.rpc, error: error instanceof Error ? error.stack ?? error.message : String(error) }),
      );
  });
  // The parent went away: do not linger.
  process.on('disconnect', () => process.exit(0));
  return {
    ready: (value) => send({ ready: value }),
    failed: (error) => {
      send({ failed: error instanceof Error ? error.stack ?? error.message : String(error) });
      setTimeout(() => process.exit(1), 100);
    },
  };
}

/** Memory after full collections, as the leak and per-connection figures need it. */
export async function settledMemory(): Promise<NodeJS.MemoryUsage & { handles: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 4; i++) {
    gc?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
  return { ...process.memoryUsage(), handles };
}
