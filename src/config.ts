import path from 'node:path';

/** Everything the app reads from its environment (DESIGN.md section 2), checked once at start-up. */
export interface AppConfig {
  host: string;
  port: number;
  /** Base of the hook and status URLs handed out; defaults to http://HOST:PORT. */
  publicUrl: string | null;
  /** An external PostgreSQL; null starts the embedded one under dataDir. */
  databaseUrl: string | null;
  dataDir: string;
  /** A real cluster's kubeconfig; null uses in-cluster config inside a pod, else the local cluster. */
  kubeconfig: string | null;
  inCluster: boolean;
  buildNamespace: string;
  bootstrapAdminToken: string | null;
  /** Accepted calls per hook per minute; 0 turns the limit off. */
  hookRateLimit: number;
  /** Failed authentications per client address per minute; 0 turns the limit off. */
  authFailureLimit: number;
  /** Reverse proxies in front of the app whose X-Forwarded-For entries are trusted (0: none). */
  trustProxy: number;
  localTekton: 'simulate' | 'off';
  /** Registry the build pushes to: images are `IMAGE_REGISTRY/<org namespace>/<service>:<deployment>`. */
  imageRegistry: string;
  /** The ServiceAccount build TaskRuns run as; null leaves it to Tekton (the namespace's default). */
  buildServiceAccount: string | null;
}

export class ConfigError extends Error {}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const localTekton = env.LOCAL_TEKTON || 'simulate';
  if (localTekton !== 'simulate' && localTekton !== 'off') {
    throw new ConfigError(`LOCAL_TEKTON must be "simulate" or "off", got "${localTekton}"`);
  }
  const buildNamespace = env.BUILD_NAMESPACE || 'stackblaze-builds';
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(buildNamespace)) {
    throw new ConfigError(`BUILD_NAMESPACE must be a Kubernetes namespace name, got "${buildNamespace}"`);
  }
  const buildServiceAccount = env.BUILD_SERVICE_ACCOUNT;
  if (buildServiceAccount && !/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/.test(buildServiceAccount)) {
    throw new ConfigError(`BUILD_SERVICE_ACCOUNT must be a Kubernetes object name, got "${buildServiceAccount}"`);
  }
  const publicUrl = env.PUBLIC_URL ? env.PUBLIC_URL.replace(/\/+$/, '') : null;
  if (publicUrl !== null && !/^https?:\/\/[^\s/]+/.test(publicUrl)) {
    throw new ConfigError(`PUBLIC_URL must be an http:// or https:// URL, got "${env.PUBLIC_URL}"`);
  }
  const bootstrapAdminToken = env.BOOTSTRAP_ADMIN_TOKEN || null;
  if (bootstrapAdminToken !== null && !/^[\x21-\x7e]{16,512}$/.test(bootstrapAdminToken)) {
    throw new ConfigError('BOOTSTRAP_ADMIN_TOKEN must be 16 to 512 printable characters without spaces');
  }
  const inCluster = Boolean(env.KUBERNETES_SERVICE_HOST);
  if (inCluster && !env.DATABASE_URL) {
    // Each replica would quietly start its own empty embedded database.
    throw new ConfigError('DATABASE_URL must be set when running in a Kubernetes pod');
  }
  return {
    host: env.HOST || '127.0.0.1',
    port: integer(env, 'PORT', 4000, 0, 65535),
    publicUrl,
    databaseUrl: env.DATABASE_URL || null,
    dataDir: path.resolve(env.DATA_DIR || './.data'),
    kubeconfig: env.KUBECONFIG || null,
    inCluster,
    buildNamespace,
    bootstrapAdminToken,
    hookRateLimit: integer(env, 'HOOK_RATE_LIMIT', 60, 0, 1_000_000),
    authFailureLimit: integer(env, 'AUTH_FAILURE_LIMIT', 30, 0, 1_000_000),
    trustProxy: integer(env, 'TRUST_PROXY', 0, 0, 10),
    localTekton,
    imageRegistry: env.IMAGE_REGISTRY || 'registry.stackblaze.local',
    buildServiceAccount: env.BUILD_SERVICE_ACCOUNT || null,
  };
}
