import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Faults, type FaultController } from './faults.js';
import { writeKubeconfig } from './kubeconfig.js';
import { ResourceApi } from './resource-api.js';
import { createApiServer } from './server.js';
import { TektonSimulator } from './simulator.js';
import { ObjectStore } from './store.js';
import { WatchHub } from './watch.js';

export type { FaultController } from './faults.js';
export { outcomeAnnotation, type SimulatedOutcome } from './simulated-pipeline.js';

export interface LocalClusterOptions {
  /** Objects persist under `${dataDir}/cluster/`; the kubeconfig is written to `${dataDir}/kubeconfig`. */
  dataDir: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 0: a free port. */
  port?: number;
  /** Default 'simulate': a stand-in Tekton controller advances PipelineRuns. 'off': status is whoever patches it. */
  tekton?: 'simulate' | 'off';
  /** Delay between simulated transitions; default 1500 ms, so a demo can be followed by eye. */
  simulation?: { stepMs?: number };
  /** How many past events are kept for watches resuming from a resourceVersion; older ones get 410. Default 5000. */
  historyLimit?: number;
  /** How often watches that allow bookmarks get a BOOKMARK; default 5000 ms. */
  bookmarkIntervalMs?: number;
}

export interface LocalCluster {
  /** For example http://127.0.0.1:45123 */
  url: string;
  kubeconfigPath: string;
  faults: FaultController;
  /** Closes every socket (open watches included) and timer. */
  stop(): Promise<void>;
}

/**
 * Starts the embedded Kubernetes-compatible API server (PipelineRuns, their pods and logs,
 * discovery for kubectl) and writes a kubeconfig for it.
 */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const store = ObjectStore.open({ dir: join(options.dataDir, 'cluster'), historyLimit: options.historyLimit ?? 5000 });
  const watches = new WatchHub(store, options.bookmarkIntervalMs ?? 5000);
  const faults = new Faults(store, watches);
  const lifetime = new AbortController();
  const server = createApiServer({ store, api: new ResourceApi(store), watches, faults, signal: lifetime.signal });

  const host = options.host ?? '127.0.0.1';
  let url: string;
  const kubeconfigPath = join(options.dataDir, 'kubeconfig');
  try {
    server.listen(options.port ?? 0, host);
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
    await writeKubeconfig(kubeconfigPath, url);
  } catch (error) {
    server.close();
    store.close();
    throw error;
  }

  const simulator =
    (options.tekton ?? 'simulate') === 'simulate'
      ? new TektonSimulator(store, options.simulation?.stepMs ?? 1500)
      : undefined;
  simulator?.start();

  let stopped: Promise<void> | undefined;
  return {
    url,
    kubeconfigPath,
    faults,
    stop() {
      stopped ??= (async () => {
        simulator?.stop();
        lifetime.abort();
        watches.dropAll();
        const closed = once(server, 'close');
        server.close();
        server.closeAllConnections();
        await closed;
        store.close();
      })();
      return stopped;
    },
  };
}
