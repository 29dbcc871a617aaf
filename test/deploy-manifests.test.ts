import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadAllYaml } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { buildPipelineRun, PIPELINE_PARAMS } from '../src/k8s/pipeline-run.js';
import { DEFAULT_PIPELINE_NAME } from '../src/resolvers/services.js';

/**
 * The manifests in deploy/ checked against the code they deploy: the Role against the calls the
 * app makes, the Pipeline against the PipelineRun the app creates, the variables against what
 * src/config.ts reads, the shutdown budget against the app's drain.
 */

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const deployDir = path.join(repoRoot, 'deploy');
const run = promisify(execFile);

/** The parts of Kubernetes objects these tests read; everything else stays opaque. */
interface Manifest {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: any;
}

interface Probe {
  httpGet?: { path?: string; port?: number | string };
}

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}

interface Container {
  name: string;
  image?: string;
  command?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  lifecycle?: { preStop?: { exec?: { command?: string[] }; sleep?: { seconds: number } } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, any>;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}

const yamlFiles = readdirSync(deployDir)
  .filter((file) => file.endsWith('.yaml'))
  .sort();

function load(file: string): Manifest[] {
  return loadAllYaml(readFileSync(path.join(deployDir, file), 'utf8')).filter((doc) => doc != null) as Manifest[];
}

const docsByFile = new Map(yamlFiles.map((file) => [file, load(file)] as const));
const allDocs = [...docsByFile.values()].flat();

/** The one object of a kind (and name) in a file; fails when there is none or several. */
function one(file: string, kind: string, name?: string): Manifest {
  const found = (docsByFile.get(file) ?? []).filter((d) => d.kind === kind && (name === undefined || d.metadata?.name === name));
  expect(found, `${file} should hold exactly one ${kind}${name ? ` ${name}` : ''}`).toHaveLength(1);
  return found[0]!;
}

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'Kustomization']);

const kustomization = one('kustomization.yaml', 'Kustomization');
const configMap = one('configmap.yaml', 'ConfigMap');
const secret = one('secret.example.yaml', 'Secret');
const deployment = one('deployment.yaml', 'Deployment');
const service = one('deployment.yaml', 'Service');
const serviceAccount = one('rbac.yaml', 'ServiceAccount');
const role = one('rbac.yaml', 'Role');
const roleBinding = one('rbac.yaml', 'RoleBinding');
const pipeline = one('pipeline.yaml', 'Pipeline');
const buildDeployer = one('pipeline-rbac.yaml', 'ClusterRole');
const targetBinding = one('target-namespace.example.yaml', 'RoleBinding');

const podSpec = deployment.spec.template.spec as { containers: Container[]; volumes?: Array<{ name: string; emptyDir?: object }>; [f: string]: any };
const container = podSpec.containers[0]!;
const buildNamespace = configMap.data.BUILD_NAMESPACE as string;

/** A PipelineRun as the app builds it, for what the Pipeline and its RBAC must match. */
const sampleRun = buildPipelineRun({
  deploymentId: 'dep-1',
  organizationId: 'org_1',
  serviceId: 'svc_1',
  serviceSlug: 'web',
  repoUrl: 'https://example.com/acme/web.git',
  branch: 'main',
  clearCache: false,
  pipelineName: DEFAULT_PIPELINE_NAME,
  namespace: buildNamespace,
  imageRegistry: 'registry.example.com',
});

function mebibytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  expect(match, `memory quantity ${quantity}`).not.toBeNull();
  return Number(match![1]) * (match![2] === 'Gi' ? 1024 : 1);
}

/** A port as a probe or Service names it (a number, or a container port's name) resolved to a number. */
function containerPort(port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port === 'string' && /^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

/** Names src/config.ts reads from the environment: `env.NAME`, `env['NAME']` and `integer(env, 'NAME', ...)`. */
function envNamesReadByConfig(): Set<string> {
  const source = readFileSync(path.join(repoRoot, 'src/config.ts'), 'utf8');
  const names = new Set<string>();
  for (const pattern of [/\benv\.([A-Z][A-Z0-9_]*)\b/g, /\benv\[\s*['"]([A-Z][A-Z0-9_]*)['"]\s*\]/g, /\(\s*env\s*,\s*['"]([A-Z][A-Z0-9_]*)['"]/g]) {
    for (const match of source.matchAll(pattern)) names.add(match[1]!);
  }
  return names;
}

/** Every string anywhere inside a value. */
function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

describe('deploy/ manifests', () => {
  it('parse, and every object names its apiVersion, kind, name and (when namespaced) namespace', () => {
    expect(yamlFiles).toEqual(expect.arrayContaining(['kustomization.yaml', 'namespace.yaml', 'rbac.yaml', 'deployment.yaml', 'configmap.yaml', 'secret.example.yaml', 'pipeline.yaml']));
    const declaredNamespaces = allDocs.filter((d) => d.kind === 'Namespace').map((d) => d.metadata?.name);
    for (const [file, docs] of docsByFile) {
      expect(docs.length, `${file} holds no object`).toBeGreaterThan(0);
      for (const doc of docs) {
        const where = `${file}: ${doc.kind}/${doc.metadata?.name}`;
        expect(doc.apiVersion, where).toMatch(/^[a-z0-9.]+(\/v\d\w*)?$|^v\d\w*$/);
        expect(doc.kind, where).toMatch(/^[A-Z]\w+$/);
        expect(doc.metadata?.name, where).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
        if (CLUSTER_SCOPED.has(doc.kind!)) {
          expect(doc.metadata?.namespace, where).toBeUndefined();
        } else {
          expect(declaredNamespaces, `${where} is in a namespace no manifest creates`).toContain(doc.metadata?.namespace);
        }
      }
    }
  });

  it('kustomization lists every file except the examples', () => {
    const expected = yamlFiles.filter((f) => f !== 'kustomization.yaml' && !f.endsWith('.example.yaml'));
    expect([...(kustomization.resources as string[])].sort()).toEqual(expected);
    expect(kustomization.namespace, 'a kustomization namespace would move stackblaze-builds objects into one namespace').toBeUndefined();
  });

  it('kubectl kustomize renders exactly the objects of the listed files', async () => {
    const rendered = loadAllYaml((await run('kubectl', ['kustomize', deployDir], { timeout: 20_000 })).stdout) as Manifest[];
    const id = (d: Manifest) => `${d.kind} ${d.metadata?.namespace ?? '-'}/${d.metadata?.name}`;
    const listed = (kustomization.resources as string[]).flatMap((file) => docsByFile.get(file) ?? []);
    expect(rendered.map(id).sort()).toEqual(listed.map(id).sort());
    expect(rendered.map(id)).not.toContain(id(secret));
  });

  it('namespaces: the app in stackblaze-system, builds in BUILD_NAMESPACE', () => {
    expect((docsByFile.get('namespace.yaml') ?? []).map((n) => [n.kind, n.metadata?.name])).toEqual([
      ['Namespace', 'stackblaze-system'],
      ['Namespace', 'stackblaze-builds'],
    ]);
    expect(buildNamespace).toBe('stackblaze-builds');
    expect(deployment.metadata?.namespace).toBe('stackblaze-system');
  });

  describe('Pipeline', () => {
    const declared = (pipeline.spec.params as Array<{ name: string }>).map((p) => p.name);
    const text = strings(pipeline.spec);
    const referenced = new Set(text.flatMap((s) => [...s.matchAll(/\$\(params(?:\.([\w-]+)|\[['"]([\w.-]+)['"]\])\)/g)].map((m) => (m[1] ?? m[2])!)));

    it('is the default pipeline the app references, in the build namespace', () => {
      expect(pipeline.apiVersion).toBe('tekton.dev/v1');
      expect(pipeline.metadata?.name).toBe(DEFAULT_PIPELINE_NAME);
      expect(pipeline.metadata?.namespace).toBe(buildNamespace);
    });

    it('declares exactly the params every PipelineRun passes, once each', () => {
      expect(declared).toHaveLength(new Set(declared).size);
      expect([...declared].sort()).toEqual([...PIPELINE_PARAMS].sort());
    });

    it('declares exactly the workspaces a PipelineRun binds (source)', () => {
      expect(sampleRun.spec.pipelineRef).toEqual({ name: pipeline.metadata?.name });
      const bound = (sampleRun.spec.workspaces as Array<{ name: string }>).map((w) => w.name);
      expect(bound).toEqual(['source']);
      expect((pipeline.spec.workspaces as Array<{ name: string }>).map((w) => w.name)).toEqual(bound);
    });

    it('references only declared params, and uses every one of them', () => {
      expect([...referenced].sort()).toEqual([...declared].sort());
    });

    it('runs clone, then build-and-push, then deploy, each task binding only declared workspaces', () => {
      const tasks = pipeline.spec.tasks as Array<{ name: string; runAfter?: string[]; workspaces?: Array<{ name: string; workspace: string }>; taskSpec: any }>;
      expect(tasks.map((t) => [t.name, t.runAfter ?? []])).toEqual([
        ['clone', []],
        ['build-and-push', ['clone']],
        ['deploy', ['build-and-push']],
      ]);
      const pipelineWorkspaces = (pipeline.spec.workspaces as Array<{ name: string }>).map((w) => w.name);
      for (const task of tasks) {
        const taskWorkspaces = ((task.taskSpec.workspaces ?? []) as Array<{ name: string }>).map((w) => w.name);
        expect((task.workspaces ?? []).map((w) => w.name).sort(), task.name).toEqual([...taskWorkspaces].sort());
        for (const binding of task.workspaces ?? []) expect(pipelineWorkspaces, task.name).toContain(binding.workspace);
        for (const [, name] of strings(task.taskSpec).flatMap((s) => [...s.matchAll(/\$\(workspaces\.([\w-]+)\./g)])) {
          expect(taskWorkspaces, `${task.name} uses workspace ${name}`).toContain(name);
        }
      }
    });

    it('never puts a param into a shell script, where a branch name could become a command', () => {
      const scripts = (pipeline.spec.tasks as Array<{ taskSpec: { steps: Array<{ script?: string }> } }>).flatMap((t) =>
        t.taskSpec.steps.map((s) => s.script ?? ''),
      );
      expect(scripts.join('')).not.toBe('');
      for (const script of scripts) expect(script).not.toMatch(/\$\(params/);
    });

    it('hides the ServiceAccount token from the step that runs the customer Dockerfile', () => {
      const build = (pipeline.spec.tasks as Array<{ name: string; taskSpec: { steps: Container[] } }>).find((t) => t.name === 'build-and-push')!;
      for (const step of build.taskSpec.steps) {
        expect(step.volumeMounts?.map((m) => m.mountPath), step.name).toContain('/var/run/secrets/kubernetes.io/serviceaccount');
      }
    });
  });

  describe('RBAC', () => {
    it('the Role grants exactly the calls in src/k8s, in the build namespace', () => {
      expect(role.metadata?.namespace).toBe(buildNamespace);
      expect(role.rules).toEqual([
        { apiGroups: ['tekton.dev'], resources: ['pipelineruns'], verbs: ['create', 'get', 'list', 'watch', 'patch'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
        { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
      ]);
    });

    it('the RoleBinding gives that Role to the ServiceAccount the Deployment runs as', () => {
      expect(podSpec.serviceAccountName).toBe(serviceAccount.metadata?.name);
      expect(serviceAccount.metadata?.namespace).toBe(deployment.metadata?.namespace);
      expect(roleBinding.metadata?.namespace).toBe(role.metadata?.namespace);
      expect(roleBinding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata?.name });
      expect(roleBinding.subjects).toEqual([{ kind: 'ServiceAccount', name: podSpec.serviceAccountName, namespace: deployment.metadata?.namespace }]);
    });

    it("the builds' deploy permission is a ClusterRole granted per namespace, never cluster-wide", () => {
      expect(buildDeployer.rules).toEqual([{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'patch'] }]);
      expect(allDocs.filter((d) => d.kind === 'ClusterRoleBinding')).toEqual([]);
      expect(targetBinding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: buildDeployer.metadata?.name });
      // The builds run as the ServiceAccount the app's PipelineRuns name; none means Tekton's
      // default, the namespace's `default`.
      const buildServiceAccount = (sampleRun.spec as { taskRunTemplate?: { serviceAccountName?: string } }).taskRunTemplate?.serviceAccountName;
      expect(targetBinding.subjects).toEqual([{ kind: 'ServiceAccount', name: buildServiceAccount ?? 'default', namespace: buildNamespace }]);
    });
  });

  describe('Deployment and Service', () => {
    it('runs 2 replicas of the placeholder image, selecting its own pods', () => {
      expect(deployment.spec.replicas).toBe(2);
      expect(podSpec.containers).toHaveLength(1);
      expect(container.image).toBe('ghcr.io/stackblaze/control-plane:latest');
      const podLabels = deployment.spec.template.metadata.labels as Record<string, string>;
      expect(podLabels).toMatchObject(deployment.spec.selector.matchLabels);
      expect(podLabels).toMatchObject(service.spec.selector);
    });

    it('the Service sends port 80 to the port the app listens on, and the probes hit it too', () => {
      const port = Number(configMap.data.PORT);
      expect(service.spec.ports).toHaveLength(1);
      expect(service.spec.ports[0].port).toBe(80);
      expect(containerPort(service.spec.ports[0].targetPort)).toBe(port);
      expect(container.readinessProbe?.httpGet?.path).toBe('/readyz');
      expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
      expect(container.startupProbe?.httpGet?.path).toBe('/healthz');
      for (const probe of [container.readinessProbe, container.livenessProbe, container.startupProbe]) {
        expect(containerPort(probe?.httpGet?.port)).toBe(port);
      }
    });

    it('runs what `npm start` runs, as PID 1 so that SIGTERM reaches the app', () => {
      const packageJson = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
      const [exec, ...command] = packageJson.scripts.start!.split(/\s+/);
      expect(exec).toBe('exec');
      expect(container.command).toEqual(command);
    });

    it('gives SIGTERM more time than the preStop pause plus the app drain', () => {
      const app = readFileSync(path.join(repoRoot, 'src/app.ts'), 'utf8');
      const drain = /drainTimeoutMs \?\? ([\d_]+)/.exec(app);
      expect(drain, 'src/app.ts no longer spells its drain timeout as `drainTimeoutMs ?? N`').not.toBeNull();
      const drainSeconds = Number(drain![1]!.replace(/_/g, '')) / 1000;
      expect(drainSeconds).toBe(10);
      const preStop = container.lifecycle?.preStop;
      const pauseSeconds = preStop?.sleep?.seconds ?? Number(preStop?.exec?.command?.[0] === 'sleep' ? preStop.exec.command[1] : NaN);
      expect(pauseSeconds).toBeGreaterThan(0);
      expect(podSpec.terminationGracePeriodSeconds).toBeGreaterThan(drainSeconds + pauseSeconds);
    });

    it('runs as non-root with a read-only root filesystem, no capabilities and the default seccomp profile', () => {
      expect(podSpec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(container.securityContext).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
        seccompProfile: { type: 'RuntimeDefault' },
      });
      // With the root filesystem read-only, DATA_DIR and /tmp must be writable volumes.
      const emptyDirs = new Set((podSpec.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name));
      const writable = (container.volumeMounts ?? []).filter((m) => emptyDirs.has(m.name)).map((m) => m.mountPath);
      const dataDir = container.env?.find((e) => e.name === 'DATA_DIR')?.value;
      expect(writable).toContain(dataDir);
      expect(writable).toContain('/tmp');
    });

    it('requests and limits CPU and memory, with the V8 heap capped below the memory limit', () => {
      for (const kind of ['requests', 'limits'] as const) {
        expect(container.resources?.[kind], kind).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
      }
      const heap = Number(/--max-old-space-size=(\d+)/.exec(container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '')?.[1]);
      expect(heap).toBeGreaterThan(0);
      expect(heap).toBeLessThan(mebibytes(container.resources!.limits!.memory!));
      expect(mebibytes(container.resources!.requests!.memory!)).toBeLessThanOrEqual(mebibytes(container.resources!.limits!.memory!));
    });
  });

  describe('configuration', () => {
    const readByConfig = envNamesReadByConfig();
    /** Variables for Node.js itself, not for the app. */
    const RUNTIME_ENV = new Set(['NODE_OPTIONS']);

    it('the ConfigMap and the example Secret set the documented variables', () => {
      expect(Object.keys(configMap.data).sort()).toEqual(['AUTH_FAILURE_LIMIT', 'BUILD_NAMESPACE', 'HOOK_RATE_LIMIT', 'IMAGE_REGISTRY', 'PORT', 'PUBLIC_URL', 'TRUST_PROXY']);
      expect(Object.keys(secret.stringData).sort()).toEqual(['BOOTSTRAP_ADMIN_TOKEN', 'DATABASE_URL']);
    });

    it('every variable the manifests set is one loadConfig reads', () => {
      expect(readByConfig).toContain('PORT');
      const set = [
        ...Object.keys(configMap.data),
        ...Object.keys(secret.stringData),
        ...(container.env ?? []).map((e) => e.name).filter((name) => !RUNTIME_ENV.has(name)),
      ];
      for (const name of set) expect(readByConfig, `${name} is not read by src/config.ts`).toContain(name);
    });

    it('the Deployment takes the ConfigMap whole and DATABASE_URL from the Secret as a required key', () => {
      expect(container.envFrom).toEqual([{ configMapRef: { name: configMap.metadata?.name } }]);
      const fromSecret = (container.env ?? []).filter((e) => e.valueFrom?.secretKeyRef);
      expect(fromSecret.map((e) => [e.name, e.valueFrom!.secretKeyRef!.name, e.valueFrom!.secretKeyRef!.key]).sort()).toEqual(
        Object.keys(secret.stringData)
          .map((key) => [key, secret.metadata?.name, key])
          .sort(),
      );
      const databaseUrl = fromSecret.find((e) => e.name === 'DATABASE_URL')!;
      expect(databaseUrl.valueFrom!.secretKeyRef!.optional ?? false).toBe(false);
      expect(container.env?.map((e) => e.name)).not.toContain('KUBECONFIG');
    });

    it('loadConfig accepts what a pod would see, and listens where the Service expects', () => {
      const env: NodeJS.ProcessEnv = { KUBERNETES_SERVICE_HOST: '10.0.0.1', ...configMap.data, ...secret.stringData };
      for (const variable of container.env ?? []) if (variable.value !== undefined) env[variable.name] = variable.value;
      const config = loadConfig(env);
      expect(config).toMatchObject({
        host: '0.0.0.0',
        port: containerPort('http'),
        buildNamespace: role.metadata?.namespace,
        kubeconfig: null,
        inCluster: true,
        databaseUrl: secret.stringData.DATABASE_URL,
      });
    });
  });
});

