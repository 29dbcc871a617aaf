import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export const kubeconfigContext = 'local';
export const defaultNamespace = 'stackblaze-builds';

/**
 * Writes a kubeconfig for the cluster at `server`. It goes to a temporary file first and is
 * renamed into place, so a process reading it (the app, kubectl) never sees half of it. The
 * token is there because clients expect one; this cluster does not check it.
 */
export async function writeKubeconfig(path: string, server: string): Promise<void> {
  const token = randomBytes(24).toString('base64url');
  const q = (value: string) => JSON.stringify(value);
  const yaml = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${kubeconfigContext}`,
    '  cluster:',
    `    server: ${q(server)}`,
    // client-node 1.x refuses a plain-HTTP server unless this is set; kubectl ignores it for HTTP.
    '    insecure-skip-tls-verify: true',
    'users:',
    `- name: ${kubeconfigContext}`,
    '  user:',
    `    token: ${q(token)}`,
    'contexts:',
    `- name: ${kubeconfigContext}`,
    '  context:',
    `    cluster: ${kubeconfigContext}`,
    `    user: ${kubeconfigContext}`,
    `    namespace: ${defaultNamespace}`,
    `current-context: ${kubeconfigContext}`,
    'preferences: {}',
    '',
  ].join('\n');
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, yaml, { mode: 0o600 });
  await rename(temporary, path);
}
