/**
 * The local cluster (startLocalCluster, Tekton off: statuses change only when the benchmark
 * patches them) in its own process, so that its work never shares the app's event loop.
 * DATA_DIR says where it keeps its objects and writes the kubeconfig.
 */
import { startLocalCluster, type LocalCluster } from '../src/k8s/local-cluster/index.js';
import { serveParent } from './lib/child.js';

let cluster: LocalCluster | null = null;
const parent = serveParent({}, async () => {
  await cluster?.stop();
});

try {
  cluster = await startLocalCluster({ dataDir: process.env.DATA_DIR!, tekton: 'off', historyLimit: 50_000 });
  parent.ready({ url: cluster.url, kubeconfigPath: cluster.kubeconfigPath });
} catch (error) {
  parent.failed(error);
}
