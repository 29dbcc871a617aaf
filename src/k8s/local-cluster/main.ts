import { resolve } from 'node:path';
import { startLocalCluster } from './index.js';

/** `npm run cluster`: the local cluster on its own, so the app can be pointed at it and restarted independently. */
const tekton = process.env.LOCAL_TEKTON ?? 'simulate';
if (tekton !== 'simulate' && tekton !== 'off') {
  console.error(`LOCAL_TEKTON must be "simulate" or "off", not "${tekton}"`);
  process.exit(2);
}

const cluster = await startLocalCluster({
  dataDir: resolve(process.env.DATA_DIR ?? './.data'),
  host: process.env.CLUSTER_HOST ?? '127.0.0.1',
  port: Number(process.env.CLUSTER_PORT ?? 6443),
  tekton,
});
console.log(`local cluster listening on ${cluster.url}`);
console.log(`kubeconfig: ${cluster.kubeconfigPath}`);
console.log(`try: kubectl --kubeconfig ${cluster.kubeconfigPath} get pipelineruns -w`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cluster.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('local cluster: stop failed', error);
        process.exit(1);
      },
    );
  });
}
