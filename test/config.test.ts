import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

describe('loadConfig', () => {
  it('has the documented defaults with an empty environment', () => {
    expect(loadConfig({})).toEqual({
      host: '127.0.0.1',
      port: 4000,
      publicUrl: null,
      databaseUrl: null,
      dataDir: path.resolve('./.data'),
      kubeconfig: null,
      inCluster: false,
      buildNamespace: 'stackblaze-builds',
      bootstrapAdminToken: null,
      hookRateLimit: 60,
      authFailureLimit: 30,
      trustProxy: 0,
      localTekton: 'simulate',
      imageRegistry: 'registry.stackblaze.local',
      buildServiceAccount: null,
    });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      HOST: '0.0.0.0',
      PORT: '8080',
      PUBLIC_URL: 'https://deploy.example.com/',
      DATABASE_URL: 'postgres://db/x',
      DATA_DIR: '/var/lib/sb',
      KUBECONFIG: '/k',
      BUILD_NAMESPACE: 'builds',
      BOOTSTRAP_ADMIN_TOKEN: 'sbapi_0123456789abcdef',
      HOOK_RATE_LIMIT: '0',
      AUTH_FAILURE_LIMIT: '5',
      LOCAL_TEKTON: 'off',
      IMAGE_REGISTRY: 'ghcr.io/acme',
      TRUST_PROXY: '2',
      BUILD_SERVICE_ACCOUNT: 'stackblaze-build',
    });
    expect(config).toMatchObject({
      host: '0.0.0.0',
      port: 8080,
      publicUrl: 'https://deploy.example.com',
      databaseUrl: 'postgres://db/x',
      dataDir: '/var/lib/sb',
      kubeconfig: '/k',
      buildNamespace: 'builds',
      hookRateLimit: 0,
      authFailureLimit: 5,
      localTekton: 'off',
      imageRegistry: 'ghcr.io/acme',
      trustProxy: 2,
      buildServiceAccount: 'stackblaze-build',
    });
  });

  it.each([
    [{ PORT: '-1' }, 'PORT'],
    [{ PORT: 'http' }, 'PORT'],
    [{ HOOK_RATE_LIMIT: '1.5' }, 'HOOK_RATE_LIMIT'],
    [{ AUTH_FAILURE_LIMIT: 'many' }, 'AUTH_FAILURE_LIMIT'],
    [{ LOCAL_TEKTON: 'on' }, 'LOCAL_TEKTON'],
    [{ BUILD_NAMESPACE: 'Not_A_Namespace' }, 'BUILD_NAMESPACE'],
    [{ PUBLIC_URL: 'ftp://x' }, 'PUBLIC_URL'],
    [{ BOOTSTRAP_ADMIN_TOKEN: 'short' }, 'BOOTSTRAP_ADMIN_TOKEN'],
    [{ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, 'DATABASE_URL'],
    [{ TRUST_PROXY: 'yes' }, 'TRUST_PROXY'],
    [{ BUILD_SERVICE_ACCOUNT: 'Bad Name' }, 'BUILD_SERVICE_ACCOUNT'],
  ])('refuses %j naming %s', (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(name);
  });

  it('uses in-cluster Kubernetes config in a pod that has a database', () => {
    expect(loadConfig({ KUBERNETES_SERVICE_HOST: '10.0.0.1', DATABASE_URL: 'postgres://db/x' }).inCluster).toBe(true);
  });
});
