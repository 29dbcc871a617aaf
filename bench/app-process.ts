/**
 * The app under test, in its own process: `node --expose-gc --import tsx bench/app-process.ts`
 * (started by bench/lib/child.ts). Configuration comes from the environment exactly as for
 * `npm start`; the benchmark passes DATABASE_URL, KUBECONFIG, BUILD_NAMESPACE, DATA_DIR,
 * BOOTSTRAP_ADMIN_TOKEN, HOOK_RATE_LIMIT=0 and AUTH_FAILURE_LIMIT=0. Over IPC it answers:
 * `stats` (memory after GC, open handles, open streams, tracked keys, SQL statements by kind),
 * `resetStatements`, `synced`, `profileStart`/`profileStop` (a V8 CPU profile of a chosen window,
 * through the inspector) and `exit`. Nothing here is part of the product.
 */
import { writeFile } from 'node:fs/promises';
import inspector from 'node:inspector';
import pg from 'pg';
import { startApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { serveParent, settledMemory } from './lib/child.js';

// Every statement any pg client of this process sends, by its first words: this is how the
// report counts database round trips per hook call. One Map update per statement.
const statements = new Map<string, number>();
const originalQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
  const first = args[0] as string | { text?: string } | undefined;
  const text = typeof first === 'string' ? first : first?.text;
  if (text) {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 2000);
    statements.set(key, (statements.get(key) ?? 0) + 1);
  }
  return (originalQuery as (...a: unknown[]) => unknown).apply(this, args);
} as typeof pg.Client.prototype.query;

let app: App | null = null;

const parent = serveParent(
  {
    async stats(args: { gc?: boolean } = {}) {
      const memory = args.gc === false ? { ...process.memoryUsage(), handles: activeHandles() } : await settledMemory();
      return {
        memory,
        openStreams: app!.services.streams.openCount(),
        trackedKeys: app!.notifications.trackedCount(),
      };
    },
    statements: () => Object.fromEntries(statements),
    resetStatements() {
      statements.clear();
    },
    synced: () => app!.watcher.whenSynced(),
    async profileStart() {
      await post('Profiler.enable');
      await post('Profiler.setSamplingInterval', { interval: 200 });
      await post('Profiler.start');
    },
    async profileStop(args: { file: string }) {
      const { profile } = (await post('Profiler.stop')) as { profile: unknown };
      await writeFile(args.file, JSON.stringify(profile));
      return args.file;
    },
  },
  async () => {
    await app?.stop();
  },
);

let session: inspector.Session | null = null;
function post(method: string, params?: object): Promise<unknown> {
  if (!session) {
    session = new inspector.Session();
    session.connect();
  }
  return new Promise((resolve, reject) => session!.post(method, params ?? {}, (error, result) => (error ? reject(error) : resolve(result))));
}

function activeHandles(): number {
  return (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().length;
}

try {
  const config = loadConfig(process.env);
  app = await startApp({ config, log: createLogger({ level: process.env.LOG_LEVEL ?? 'info' }) });
  parent.ready({ url: app.url, pid: process.pid });
} catch (error) {
  parent.failed(error);
}
