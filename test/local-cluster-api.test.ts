import { appendFile, readFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  apiFailure,
  createRun,
  getRun,
  group,
  namespace,
  patchRun,
  pipelineRunManifest,
  plural,
  startTestCluster,
  version,
  type PipelineRunObject,
  type TestCluster,
} from './support/local-cluster-harness.js';

const fixtures = new URL('../../shared/fixtures/tekton/', import.meta.url);

async function fixture(name: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(new URL(name, fixtures), 'utf8')) as Record<string, unknown>;
}

let t: TestCluster;
beforeEach(async () => {
  t = await startTestCluster();
});
afterEach(async () => {
  await t.dispose();
});

async function http(path: string, init: RequestInit = {}): Promise<{ code: number; body: any; contentType: string }> {
  const response = await fetch(`${t.cluster.url}${path}`, init);
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  return { code: response.status, body: contentType.includes('json') ? JSON.parse(text) : text, contentType };
}

describe('discovery', () => {
  it('serves version, groups and resource lists that name pipelineruns and their status subresource', async () => {
    expect((await http('/version')).body).toMatchObject({ major: '1', minor: '32' });
    expect((await http('/api')).body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = (await http('/apis')).body;
    expect(groups.kind).toBe('APIGroupList');
    expect(groups.groups).toEqual([
      expect.objectContaining({ name: 'tekton.dev', preferredVersion: { groupVersion: 'tekton.dev/v1', version: 'v1' } }),
    ]);
    const tekton = (await http('/apis/tekton.dev/v1')).body;
    expect(tekton).toMatchObject({ kind: 'APIResourceList', groupVersion: 'tekton.dev/v1' });
    const byName = Object.fromEntries(tekton.resources.map((r: { name: string }) => [r.name, r]));
    expect(byName.pipelineruns).toMatchObject({
      namespaced: true,
      kind: 'PipelineRun',
      singularName: 'pipelinerun',
      shortNames: ['pr', 'prs'],
      verbs: expect.arrayContaining(['create', 'get', 'list', 'watch', 'patch', 'update', 'delete']),
    });
    expect(byName['pipelineruns/status']).toMatchObject({ kind: 'PipelineRun', verbs: ['get', 'patch', 'update'] });
    const core = (await http('/api/v1')).body;
    expect(core.resources.map((r: { name: string }) => r.name)).toEqual(
      expect.arrayContaining(['pods', 'pods/log', 'namespaces', 'events']),
    );
  });

  it('answers unknown paths and wrong methods with Status objects', async () => {
    const missing = await http('/apis/example.com/v1/widgets');
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
    const wrongMethod = await http(`/apis/tekton.dev/v1/namespaces/${namespace}/pipelineruns`, { method: 'PUT', body: '{}' });
    expect(wrongMethod.code).toBe(405);
    expect(wrongMethod.body).toMatchObject({ kind: 'Status', reason: 'MethodNotAllowed', code: 405 });
  });
});

describe('PipelineRun objects', () => {
  it('creates from a real fixture, dropping status and setting server metadata', async () => {
    const body = { ...(await fixture('case-04-succeeded.json')) };
    (body.metadata as Record<string, unknown>).namespace = namespace;
    const created = await createRun(t, body);
    expect(created.status).toBeUndefined();
    expect(created.metadata).toMatchObject({
      name: 'test-pipeline-run-finally-results',
      namespace,
      generation: 1,
      labels: { 'tekton.dev/pipeline': 'test-pipeline' },
    });
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0);
    expect(await getRun(t, created.metadata.name)).toEqual(created);
  });

  it('answers a second create of the same name with 409 AlreadyExists', async () => {
    await createRun(t, pipelineRunManifest('dup'));
    const failure = await apiFailure(createRun(t, pipelineRunManifest('dup')));
    expect(failure.code).toBe(409);
    expect(failure.status).toEqual({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pipelineruns.tekton.dev "dup" already exists',
      reason: 'AlreadyExists',
      details: { name: 'dup', group: 'tekton.dev', kind: 'pipelineruns' },
      code: 409,
    });
  });

  it('answers a missing object with 404 NotFound', async () => {
    const failure = await apiFailure(getRun(t, 'nope'));
    expect(failure.code).toBe(404);
    expect(failure.status).toMatchObject({
      reason: 'NotFound',
      message: 'pipelineruns.tekton.dev "nope" not found',
      details: { name: 'nope', group: 'tekton.dev', kind: 'pipelineruns' },
    });
  });

  it('validates names and supports generateName', async () => {
    const invalid = await apiFailure(createRun(t, pipelineRunManifest('Not_A_Name')));
    expect(invalid.code).toBe(422);
    expect(invalid.status).toMatchObject({ reason: 'Invalid', details: { causes: [expect.objectContaining({ field: 'metadata.name' })] } });
    const tooLong = await apiFailure(createRun(t, pipelineRunManifest('a'.repeat(64))));
    expect(tooLong.code).toBe(400);

    const generated = await createRun(t, {
      apiVersion: 'tekton.dev/v1',
      kind: 'PipelineRun',
      metadata: { generateName: 'deploy-' },
      spec: {},
    });
    expect(generated.metadata.name).toMatch(/^deploy-[a-z0-9]{5}$/);
  });

  it('bumps one global resourceVersion per change, and not for a change that changes nothing', async () => {
    const a = await createRun(t, pipelineRunManifest('a'));
    const b = await createRun(t, pipelineRunManifest('b'));
    expect(Number(b.metadata.resourceVersion)).toBe(Number(a.metadata.resourceVersion) + 1);
    const patched = await patchRun(t, 'a', { metadata: { labels: { x: '1' } } });
    expect(Number(patched.metadata.resourceVersion)).toBe(Number(b.metadata.resourceVersion) + 1);
    const same = await patchRun(t, 'a', { metadata: { labels: { x: '1' } } });
    expect(same.metadata.resourceVersion).toBe(patched.metadata.resourceVersion);
    const list = (await t.custom.listNamespacedCustomObject({ group, version, namespace, plural })) as {
      kind: string;
      metadata: { resourceVersion: string };
      items: PipelineRunObject[];
    };
    expect(list.kind).toBe('PipelineRunList');
    expect(list.metadata.resourceVersion).toBe(patched.metadata.resourceVersion);
    expect(list.items.map((i) => i.metadata.name)).toEqual(['a', 'b']);
  });

  it('filters lists by every label selector form and by metadata fields', async () => {
    const labelled = {
      one: { app: 'web', tier: 'front' },
      two: { app: 'web', tier: 'back' },
      three: { app: 'db' },
      four: {},
    };
    for (const [name, labels] of Object.entries(labelled)) await createRun(t, pipelineRunManifest(name, { labels }));
    const names = async (query: { labelSelector?: string; fieldSelector?: string }) => {
      const list = (await t.custom.listNamespacedCustomObject({ group, version, namespace, plural, ...query })) as {
        items: PipelineRunObject[];
      };
      return list.items.map((i) => i.metadata.name).sort();
    };
    expect(await names({ labelSelector: 'app=web' })).toEqual(['one', 'two']);
    expect(await names({ labelSelector: 'app==web,tier=back' })).toEqual(['two']);
    expect(await names({ labelSelector: 'app!=web' })).toEqual(['four', 'three']);
    expect(await names({ labelSelector: 'tier' })).toEqual(['one', 'two']);
    expect(await names({ labelSelector: '!tier' })).toEqual(['four', 'three']);
    expect(await names({ labelSelector: 'app in (db, web),tier notin (front)' })).toEqual(['three', 'two']);
    expect(await names({ fieldSelector: 'metadata.name=three' })).toEqual(['three']);
    expect(await names({ fieldSelector: `metadata.namespace=${namespace},metadata.name!=three` })).toEqual([
      'four',
      'one',
      'two',
    ]);
    const unsupported = await apiFailure(
      t.custom.listNamespacedCustomObject({ group, version, namespace, plural, fieldSelector: 'spec.foo=bar' }),
    );
    expect(unsupported.code).toBe(400);
    const malformed = await apiFailure(
      t.custom.listNamespacedCustomObject({ group, version, namespace, plural, labelSelector: 'app in (web' }),
    );
    expect(malformed.code).toBe(400);
  });

  it('pages lists with limit and continue', async () => {
    for (const name of ['p1', 'p2', 'p3', 'p4', 'p5']) await createRun(t, pipelineRunManifest(name));
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = (await t.custom.listNamespacedCustomObject({
        group,
        version,
        namespace,
        plural,
        limit: 2,
        ...(token ? { _continue: token } : {}),
      })) as { metadata: { continue?: string }; items: PipelineRunObject[] };
      seen.push(...page.items.map((i) => i.metadata.name));
      token = page.metadata.continue;
      pages += 1;
    } while (token);
    expect(pages).toBe(3);
    expect(seen).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
  });

  it('merge-patches spec and metadata but never status through the main resource', async () => {
    await createRun(t, pipelineRunManifest('m', { labels: { keep: 'yes', drop: 'me' } }));
    const patched = await patchRun(t, 'm', {
      metadata: { labels: { drop: null, added: 'now' } },
      spec: { status: 'Cancelled' },
      status: { conditions: [{ type: 'Succeeded', status: 'True', reason: 'Succeeded' }] },
    });
    expect(patched.metadata.labels).toEqual({ keep: 'yes', added: 'now' });
    expect(patched.spec.status).toBe('Cancelled');
    expect(patched.spec.pipelineRef).toEqual({ name: 'build-and-deploy' });
    expect(patched.metadata.generation).toBe(2);
    expect(patched.status).toBeUndefined();
  });

  it('changes only status through the status subresource, by merge patch and by PUT', async () => {
    const created = await createRun(t, pipelineRunManifest('s'));
    const condition = { type: 'Succeeded', status: 'Unknown', reason: 'Running', lastTransitionTime: '2025-01-01T00:00:00Z' };
    const patched = (await t.custom.patchNamespacedCustomObjectStatus(
      { group, version, namespace, plural, name: 's', body: { spec: { status: 'Cancelled' }, status: { conditions: [condition] } } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    )) as PipelineRunObject;
    expect(patched.status?.conditions).toEqual([condition]);
    expect(patched.spec.status).toBeUndefined();
    expect(patched.metadata.generation).toBe(created.metadata.generation);

    const replaced = (await t.custom.replaceNamespacedCustomObjectStatus({
      group,
      version,
      namespace,
      plural,
      name: 's',
      body: { ...patched, status: { startTime: '2025-01-01T00:00:01Z' } },
    })) as PipelineRunObject;
    expect(replaced.status).toEqual({ startTime: '2025-01-01T00:00:01Z' });
  });

  it('applies JSON patches (add, replace, remove, test) atomically', async () => {
    await createRun(t, pipelineRunManifest('j', { labels: { a: '1' } }));
    const patched = await patchRun(
      t,
      'j',
      [
        { op: 'test', path: '/metadata/labels/a', value: '1' },
        { op: 'replace', path: '/metadata/labels/a', value: '2' },
        { op: 'add', path: '/metadata/labels/b~1c', value: '3' },
        { op: 'add', path: '/spec/params/-', value: { name: 'extra', value: 'x' } },
        { op: 'remove', path: '/spec/pipelineRef' },
      ],
      k8s.PatchStrategy.JsonPatch,
    );
    expect(patched.metadata.labels).toEqual({ a: '2', 'b/c': '3' });
    expect(patched.spec).toEqual({ params: [{ name: 'revision', value: 'main' }, { name: 'extra', value: 'x' }] });

    const failedTest = await apiFailure(
      patchRun(
        t,
        'j',
        [
          { op: 'replace', path: '/metadata/labels/a', value: '9' },
          { op: 'test', path: '/metadata/labels/a', value: 'wrong' },
        ],
        k8s.PatchStrategy.JsonPatch,
      ),
    );
    expect(failedTest.code).toBe(422);
    expect((await getRun(t, 'j')).metadata.labels?.a).toBe('2');
  });

  it('refuses strategic merge patches on custom resources with 415', async () => {
    await createRun(t, pipelineRunManifest('smp'));
    const failure = await apiFailure(patchRun(t, 'smp', { spec: {} }, k8s.PatchStrategy.StrategicMergePatch));
    expect(failure.code).toBe(415);
    expect(failure.status).toMatchObject({ reason: 'UnsupportedMediaType', code: 415 });
  });

  it('replaces with optimistic concurrency: a stale resourceVersion gets 409 Conflict', async () => {
    const created = await createRun(t, pipelineRunManifest('u'));
    await patchRun(t, 'u', { metadata: { labels: { moved: 'on' } } });
    const stale = await apiFailure(
      t.custom.replaceNamespacedCustomObject({ group, version, namespace, plural, name: 'u', body: { ...created, spec: { x: 1 } } }),
    );
    expect(stale.code).toBe(409);
    expect(stale.status).toMatchObject({ reason: 'Conflict', details: { name: 'u', group: 'tekton.dev', kind: 'pipelineruns' } });
    const current = await getRun(t, 'u');
    const replaced = (await t.custom.replaceNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      name: 'u',
      body: { ...current, spec: { x: 1 } },
    })) as PipelineRunObject;
    expect(replaced.spec).toEqual({ x: 1 });
    expect(replaced.metadata.labels).toEqual({ moved: 'on' });
  });

  it('deletes, returning the object, after which it is gone', async () => {
    const created = await createRun(t, pipelineRunManifest('d'));
    const deleted = (await t.custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'd' })) as PipelineRunObject;
    expect(deleted.metadata.uid).toBe(created.metadata.uid);
    expect(Number(deleted.metadata.resourceVersion)).toBeGreaterThan(Number(created.metadata.resourceVersion));
    expect((await apiFailure(getRun(t, 'd'))).code).toBe(404);
  });

  it('answers malformed and oversized bodies with Status objects', async () => {
    const path = `/apis/tekton.dev/v1/namespaces/${namespace}/pipelineruns`;
    const malformed = await http(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"kind":' });
    expect(malformed.code).toBe(400);
    expect(malformed.body).toMatchObject({ kind: 'Status', reason: 'BadRequest' });
    const wrongKind = await http(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } }),
    });
    expect(wrongKind.code).toBe(400);
    const huge = await http(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ pad: 'x'.repeat(4 * 1024 * 1024) }),
    });
    expect(huge.code).toBe(413);
    expect(huge.body).toMatchObject({ kind: 'Status', reason: 'RequestEntityTooLarge' });
  });
});

describe('persistence', () => {
  it('keeps objects and the resourceVersion counter across a restart, ignoring a torn last line', async () => {
    await createRun(t, pipelineRunManifest('kept', { labels: { a: 'b' } }));
    await createRun(t, pipelineRunManifest('gone'));
    const deleted = (await t.custom.deleteNamespacedCustomObject({ group, version, namespace, plural, name: 'gone' })) as PipelineRunObject;
    const before = await getRun(t, 'kept');
    const lastVersion = Number(deleted.metadata.resourceVersion);
    await t.cluster.stop();
    await appendFile(join(t.dataDir, 'cluster', 'changes.jsonl'), '{"rv":99999,"put":"pipelin');
    await t.restart();

    expect(await getRun(t, 'kept')).toEqual(before);
    expect((await apiFailure(getRun(t, 'gone'))).code).toBe(404);
    // Compacted at start-up: the counter, then one line per live object.
    const lines = (await readFile(join(t.dataDir, 'cluster', 'changes.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.map((line) => Object.keys(JSON.parse(line)).join())).toEqual(['rv', 'rv,put,object']);
    const next = await createRun(t, pipelineRunManifest('next'));
    expect(Number(next.metadata.resourceVersion)).toBe(lastVersion + 1);
  });
});

describe('scale', () => {
  it('keeps the change log near the size of the data while one object changes 10,000 times', async () => {
    await createRun(t, pipelineRunManifest('busy'));
    const path = `${t.cluster.url}/apis/tekton.dev/v1/namespaces/${namespace}/pipelineruns/busy`;
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const patch = (n: number) =>
      new Promise<number>((resolve, reject) => {
        const req = request(path, { method: 'PATCH', agent, headers: { 'Content-Type': 'application/merge-patch+json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(JSON.stringify({ metadata: { labels: { n: String(n) } } }));
      });
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 10_050) expect(await patch(next++)).toBe(200);
      }),
    );
    agent.destroy();
    const lines = (await readFile(join(t.dataDir, 'cluster', 'changes.jsonl'), 'utf8')).trim().split('\n');
    expect(lines.length).toBeLessThan(100);
    const last = await getRun(t, 'busy');
    expect(Number(last.metadata.resourceVersion)).toBe(10_051);
    await t.restart();
    expect(await getRun(t, 'busy')).toEqual(last);
  }, 30_000);

  it('creates and lists 10,000 PipelineRuns', async () => {
    const total = 10_000;
    const path = `${t.cluster.url}/apis/tekton.dev/v1/namespaces/${namespace}/pipelineruns`;
    const agent = new Agent({ keepAlive: true, maxSockets: 32 });
    const post = (body: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(path, { method: 'POST', agent, headers: { 'Content-Type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(body);
      });
    const started = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < total) {
        const name = `run-${String(next++).padStart(5, '0')}`;
        const code = await post(JSON.stringify(pipelineRunManifest(name, { labels: { 'stackblaze.dev/service': 'svc' } })));
        if (code !== 201) throw new Error(`create ${name}: ${code}`);
      }
    };
    await Promise.all(Array.from({ length: 32 }, worker));
    const created = performance.now();
    const list = (await t.custom.listNamespacedCustomObject({
      group,
      version,
      namespace,
      plural,
      labelSelector: 'stackblaze.dev/service=svc',
    })) as { items: PipelineRunObject[] };
    const listed = performance.now();
    expect(list.items).toHaveLength(total);
    expect(new Set(list.items.map((i) => i.metadata.resourceVersion)).size).toBe(total);

    const informer = k8s.makeInformer(
      t.kc,
      `/apis/tekton.dev/v1/namespaces/${namespace}/pipelineruns`,
      () => t.custom.listNamespacedCustomObject({ group, version, namespace, plural }) as never,
      'stackblaze.dev/service=svc',
    );
    await informer.start();
    expect(informer.list(namespace)).toHaveLength(total);
    await informer.stop();
    const synced = performance.now();

    await t.restart();
    const restarted = performance.now();
    const again = (await t.custom.listNamespacedCustomObject({ group, version, namespace, plural })) as { items: unknown[] };
    expect(again.items).toHaveLength(total);
    agent.destroy();
    console.log(
      `10k PipelineRuns: create ${(created - started).toFixed(0)} ms, list ${(listed - created).toFixed(0)} ms, ` +
        `informer start ${(synced - listed).toFixed(0)} ms, restart ${(restarted - synced).toFixed(0)} ms`,
    );
  }, 60_000);
});
