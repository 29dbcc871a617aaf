import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHook, createService, startTestApp, type TestApp } from './support/app.js';

/**
 * The real `stackblaze` binary as a child process against the real app: what a CI job runs.
 * Its stdout is a pipe here, as in CI, so there must be no colour codes.
 */

const BIN = new URL('../bin/stackblaze.js', import.meta.url).pathname;
const STATUS_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)  ([a-z_]+)(?:  \((.+)\))?$/;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('STACKBLAZE_') && k !== 'NO_COLOR' && k !== 'FORCE_COLOR'),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The statuses of the transition lines, in the order printed. */
function statusLines(stdout: string): string[] {
  return stdout.split('\n').flatMap((line) => {
    const m = STATUS_LINE.exec(line);
    return m ? [m[2]!] : [];
  });
}

function deploymentId(stdout: string): string {
  const id = /^deployment (dep-[a-z2-7]+) /m.exec(stdout)?.[1];
  if (!id) throw new Error(`no deployment ID in:\n${stdout}`);
  return id;
}

let t: TestApp;
let serviceId: string;
let hook: { id: string; url: string; token: string };

async function deploymentsOf(service: string): Promise<Array<{ id: string; status: string; branch: string }>> {
  const r = await t.gql(t.adminToken, 'query($s: ID!) { deployments(serviceId: $s, first: 100) { edges { node { id status branch } } } }', { s: service });
  return r.data.deployments.edges.map((e: any) => e.node);
}

/**
 * A pass-through proxy in front of the hook route, for what only a network can do to the CLI:
 * answer 503 once, or cut the first follow stream right after its first status event.
 */
async function startProxy(mode: 'pass' | 'busy-once' | 'cut-first-stream') {
  const posts: Array<{ idempotencyKey: string | undefined; accept: string | undefined }> = [];
  const target = new URL(t.app.url);
  const server = http.createServer((req, res) => {
    if (req.method === 'POST') posts.push({ idempotencyKey: req.headers['idempotency-key'] as string, accept: req.headers.accept });
    const first = posts.length === 1;
    if (mode === 'busy-once' && req.method === 'POST' && first) {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: 'temporarily unavailable, retry later', retryAfter: 1 }));
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        const cut = mode === 'cut-first-stream' && req.method === 'POST' && first;
        let seen = '';
        answer.on('data', (chunk: Buffer) => {
          if (!cut) return void res.write(chunk);
          seen += chunk.toString();
          const status = seen.indexOf('event: status');
          const end = status === -1 ? -1 : seen.indexOf('\n\n', status);
          if (end === -1) return;
          // Everything up to the end of the first status event, then the connection dies.
          res.write(seen.slice(0, end + 2), () => res.socket?.destroy());
          answer.destroy();
        });
        answer.on('end', () => res.end());
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    posts,
    /** A hook URL that goes through the proxy. */
    url: (hookUrl: string) => hookUrl.replace(t.app.url, `http://127.0.0.1:${port}`),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

beforeAll(async () => {
  t = await startTestApp({ LOCAL_TEKTON: 'simulate' }, { tuning: { simulationStepMs: 100 } });
  serviceId = await createService(t, t.adminToken, 'cli-web');
  hook = await createHook(t, t.adminToken, serviceId, 'cli');
  await t.app.watcher.whenSynced();
});
afterAll(async () => t?.stop());

describe('stackblaze deploy --wait', () => {
  it('follows a successful run live, prints queued, running, succeeded in order and exits 0', async () => {
    // The hook from the environment, as a CI secret would provide it.
    const run = await cli(['deploy', '--wait'], { STACKBLAZE_HOOK_URL: hook.url });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(statusLines(run.stdout)).toEqual(['queued', 'running', 'succeeded']);
    const id = deploymentId(run.stdout);
    const r = await t.gql(t.adminToken, 'query($id: ID!) { deployment(id: $id) { status events { status at reason } } }', { id });
    expect(r.data.deployment.status).toBe('SUCCEEDED');
    // Each line is the event the server recorded, to the second, with its reason.
    const lines = run.stdout.split('\n').filter((l) => STATUS_LINE.test(l));
    r.data.deployment.events.forEach((e: any, i: number) => {
      const reason = e.reason ? `  (${e.reason})` : '';
      expect(lines[i]).toBe(`${e.at.replace(/\.\d+Z$/, 'Z')}  ${e.status.toLowerCase()}${reason}`);
    });
    // Not a terminal: no colour codes, and the hook's secret is not in the log.
    expect(run.stdout).not.toContain('\u001b[');
    expect(run.stdout).not.toContain(hook.token);
    expect(run.stdout).toMatch(new RegExp(`^status URL: .*/hooks/${serviceId}/sbhook_.{4}…/deployments/${id}$`, 'm'));
  });

  it('exits 1 and prints failed for a run that fails', async () => {
    const run = await cli(['deploy', '--hook', hook.url, '--branch', 'simulate/fail', '--wait']);
    expect(run.code).toBe(1);
    expect(statusLines(run.stdout)).toEqual(['queued', 'running', 'failed']);
    const id = deploymentId(run.stdout);
    expect(run.stderr).toContain(`deployment ${id} failed`);
    const r = await t.gql(t.adminToken, 'query($id: ID!) { deployment(id: $id) { status branch } }', { id });
    expect(r.data.deployment).toEqual({ status: 'FAILED', branch: 'simulate/fail' });
  });

  it('prints one JSON object per line with --json', async () => {
    const run = await cli(['deploy', '--hook', hook.url, '--wait', '--json']);
    expect(run.code).toBe(0);
    const records = run.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(records[0]).toMatchObject({ type: 'deployment', status: 'queued', serviceId, branch: 'main' });
    expect(records[0].statusUrl).toBe(`${hook.url}/deployments/${records[0].id}`);
    const statuses = records.slice(1);
    expect(statuses.map((r) => [r.type, r.status, r.sequence])).toEqual([
      ['status', 'queued', 1],
      ['status', 'running', 2],
      ['status', 'succeeded', 3],
    ]);
    expect(statuses.every((r) => r.id === records[0].id && !Number.isNaN(Date.parse(r.at)))).toBe(true);
  });

  it('resumes a dropped stream with the same Idempotency-Key: nothing printed twice, nothing deployed twice', async () => {
    const service = await createService(t, t.adminToken, 'cli-resume');
    const own = await createHook(t, t.adminToken, service, 'cli');
    const proxy = await startProxy('cut-first-stream');
    try {
      const run = await cli(['deploy', '--hook', proxy.url(own.url), '--wait']);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('status stream interrupted');
      expect(statusLines(run.stdout)).toEqual(['queued', 'running', 'succeeded']);
      expect(proxy.posts.length).toBe(2);
      expect(proxy.posts[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
      expect(proxy.posts[1]!.idempotencyKey).toBe(proxy.posts[0]!.idempotencyKey);
      expect(proxy.posts.every((p) => p.accept === 'text/event-stream')).toBe(true);
      const deployments = await deploymentsOf(service);
      expect(deployments.map((d) => [d.id, d.status])).toEqual([[deploymentId(run.stdout), 'SUCCEEDED']]);
    } finally {
      await proxy.close();
    }
  });

  it('resumes on another replica when the one it follows shuts down, saying so, and reports the real outcome', async () => {
    const { startLocalCluster } = await import('../src/k8s/local-cluster/index.js');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const os = await import('node:os');
    const path = await import('node:path');
    // A load balancer in front of two replicas: everything goes to A until A starts draining.
    const posts: string[] = [];
    let target: URL | null = null;
    let onFirstStatus = () => {};
    const balancer = http.createServer((req, res) => {
      if (req.method === 'POST') posts.push(String(req.headers['idempotency-key']));
      const first = req.method === 'POST' && posts.length === 1;
      const upstream = http.request(
        { host: target!.hostname, port: target!.port, path: req.url, method: req.method, headers: { ...req.headers, host: target!.host } },
        (answer) => {
          res.writeHead(answer.statusCode!, answer.headers);
          answer.on('data', (chunk: Buffer) => {
            res.write(chunk);
            if (first && chunk.toString().includes('event: status')) onFirstStatus();
          });
          answer.on('end', () => res.end());
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => balancer.listen(0, '127.0.0.1', resolve));
    const publicUrl = `http://127.0.0.1:${(balancer.address() as AddressInfo).port}`;
    const dir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-cli-drain-'));
    const cluster = await startLocalCluster({ dataDir: dir, tekton: 'simulate', simulation: { stepMs: 700 } });
    const a = await startTestApp({ KUBECONFIG: cluster.kubeconfigPath, PUBLIC_URL: publicUrl });
    const b = await startTestApp({ KUBECONFIG: cluster.kubeconfigPath, PUBLIC_URL: publicUrl, BOOTSTRAP_ADMIN_TOKEN: a.adminToken }, { databaseUrl: a.databaseUrl });
    let draining: Promise<void> | null = null;
    onFirstStatus = () => {
      target = new URL(b.app.url);
      draining ??= a.app.stop();
    };
    target = new URL(a.app.url);
    try {
      const service = await createService(a, a.adminToken, 'cli-drain');
      const own = await createHook(a, a.adminToken, service, 'cli');
      const run = await cli(['deploy', '--hook', own.url, '--wait']);
      expect(draining).not.toBeNull();
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('status stream interrupted (the server ended the stream: server shutting down); resuming in 1s');
      expect(statusLines(run.stdout)).toEqual(['queued', 'running', 'succeeded']);
      expect(posts).toHaveLength(2);
      expect(posts[1]).toBe(posts[0]);
      const r = await b.gql(a.adminToken, 'query($s: ID!) { deployments(serviceId: $s) { edges { node { id status } } } }', { s: service });
      expect(r.data.deployments.edges.map((e: any) => [e.node.id, e.node.status])).toEqual([[deploymentId(run.stdout), 'SUCCEEDED']]);
    } finally {
      await draining;
      await b.stop();
      await a.stop();
      await cluster.stop();
      balancer.closeAllConnections();
      await new Promise<void>((resolve) => balancer.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives up with exit 5 when --timeout passes first', async () => {
    // A server that accepts the connection and never answers.
    const silent = http.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const started = Date.now();
      const run = await cli(['deploy', '--hook', `http://127.0.0.1:${port}/hooks/svc_x/sbhook_x`, '--wait', '--timeout', '1']);
      expect(run.code).toBe(5);
      expect(run.stderr).toContain('gave up after --timeout 1s');
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });
});

describe('stackblaze deploy', () => {
  it('prints the deployment ID and status URL and exits 0 without waiting', async () => {
    const run = await cli(['deploy', '--hook', hook.url, '--clear-cache']);
    expect(run.code).toBe(0);
    expect(statusLines(run.stdout)).toEqual([]);
    const id = deploymentId(run.stdout);
    expect(run.stdout).toContain(`deployment ${id} queued (branch main, cache cleared)`);
    const res = await fetch(`${hook.url}/deployments/${id}`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id, clearCache: true });
  });

  it('sends one Idempotency-Key per run and honours --idempotency-key: the same key deploys once', async () => {
    const key = `ci-run-${Date.now()}`;
    const first = await cli(['deploy', '--hook', hook.url, '--idempotency-key', key, '--json']);
    const again = await cli(['deploy', '--hook', hook.url, '--idempotency-key', key, '--json']);
    expect([first.code, again.code]).toEqual([0, 0]);
    expect(JSON.parse(again.stdout).id).toBe(JSON.parse(first.stdout).id);
  });

  it('retries a 503 after its Retry-After with the same Idempotency-Key', async () => {
    const proxy = await startProxy('busy-once');
    try {
      const started = Date.now();
      const run = await cli(['deploy', '--hook', proxy.url(hook.url), '--json']);
      expect(run.code).toBe(0);
      expect(run.stderr).toContain('temporarily unavailable, retry later (HTTP 503); retrying in 1s');
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
      expect(proxy.posts.length).toBe(2);
      expect(proxy.posts[1]!.idempotencyKey).toBe(proxy.posts[0]!.idempotencyKey);
      expect(JSON.parse(run.stdout)).toMatchObject({ type: 'deployment', status: 'queued' });
    } finally {
      await proxy.close();
    }
  });

  it('exits 1 with the server’s 401 message for a wrong hook URL, without retrying', async () => {
    const proxy = await startProxy('pass');
    try {
      const wrong = hook.url.replace(hook.token, `sbhook_${'A'.repeat(43)}`);
      const run = await cli(['deploy', '--hook', proxy.url(wrong), '--wait']);
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('(HTTP 401): unknown service, wrong token or revoked hook');
      expect(run.stdout).toBe('');
      expect(proxy.posts.length).toBe(1);
    } finally {
      await proxy.close();
    }
  });

  it('exits 2 for usage errors, and for a branch the server refuses', async () => {
    const missing = await cli(['deploy', '--wait']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--hook URL is required (or set STACKBLAZE_HOOK_URL)');
    const unknownFlag = await cli(['deploy', '--hook', hook.url, '--colour']);
    expect(unknownFlag.code).toBe(2);
    const badBranch = await cli(['deploy', '--hook', hook.url, '--branch', 'a..b']);
    expect(badBranch.code).toBe(2);
    expect(badBranch.stderr).toContain('(HTTP 400): branch is not a valid git branch name');
  });
});

describe('admin commands', () => {
  const api = () => ({ STACKBLAZE_API_URL: t.app.url, STACKBLAZE_TOKEN: t.adminToken });

  it('create and list a service, create, list and revoke a hook; the revoked hook then gets 401', async () => {
    const created = await cli(['service', 'create', '--name', 'cli-api', '--repo', 'https://github.com/acme/api.git', '--branch', 'trunk', '--json'], api());
    expect(created.code).toBe(0);
    const service = JSON.parse(created.stdout);
    expect(service).toMatchObject({ type: 'service', name: 'cli-api', defaultBranch: 'trunk', repoUrl: 'https://github.com/acme/api.git' });

    const listed = await cli(['service', 'list'], api());
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^ID\s+NAME\s+BRANCH\s+REPOSITORY\s+CREATED$/);
    expect(listed.stdout).toMatch(new RegExp(`^${service.id}\\s+cli-api\\s+trunk\\s+https://github.com/acme/api.git`, 'm'));

    const hookRun = await cli(['hook', 'create', '--service', service.id, '--name', 'github-actions'], api());
    expect(hookRun.code).toBe(0);
    const url = hookRun.stdout.trim();
    expect(url).toMatch(new RegExp(`^${t.app.publicUrl}/hooks/${service.id}/sbhook_[A-Za-z0-9_-]{43}$`));
    expect(hookRun.stderr).toContain('shown once');
    const hookId = /hook (hook_[a-z2-7]+) /.exec(hookRun.stderr)![1]!;

    const deployed = await cli(['deploy', '--hook', url, '--branch', 'feature/x'], api());
    expect(deployed.code).toBe(0);
    expect(deployed.stdout).toContain('(branch feature/x)');

    const hooks = await cli(['hook', 'list', '--service', service.id], api());
    expect(hooks.code).toBe(0);
    expect(hooks.stdout).toMatch(new RegExp(`^${hookId}\\s+github-actions\\s+sbhook_.{4}…\\s+\\S+Z\\s+\\S+Z\\s+1\\s+active$`, 'm'));
    expect(hooks.stdout).not.toContain(url.split('/').at(-1)!);

    const revoked = await cli(['hook', 'revoke', hookId], api());
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(new RegExp(`^hook ${hookId} \\(github-actions\\) revoked at \\S+Z$`, 'm'));
    const after = await cli(['hook', 'list', '--service', service.id, '--json'], api());
    expect(JSON.parse(after.stdout)).toMatchObject({ id: hookId, revokedAt: expect.any(String) });

    const refused = await cli(['deploy', '--hook', url, '--wait']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('(HTTP 401): unknown service, wrong token or revoked hook');
  });

  it('creates an API token whose role the server enforces', async () => {
    const made = await cli(['token', 'create', '--name', 'ci-reader', '--role', 'viewer'], api());
    expect(made.code).toBe(0);
    const token = made.stdout.trim();
    expect(token).toMatch(/^sbapi_/);
    expect(made.stderr).toContain('shown once');
    const asViewer = { STACKBLAZE_API_URL: t.app.url, STACKBLAZE_TOKEN: token };
    expect((await cli(['service', 'list'], asViewer)).code).toBe(0);
    const denied = await cli(['service', 'create', '--name', 'nope', '--repo', 'https://github.com/acme/nope.git'], asViewer);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('this needs the MEMBER role; the token has VIEWER (FORBIDDEN)');
  });

  it('prints the server’s message and exits non-zero for a bad token, bad input or an unknown service', async () => {
    const badToken = await cli(['service', 'list', '--api', t.app.url, '--token', 'sbapi_nope']);
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toContain('the API token is not valid');
    const badRepo = await cli(['service', 'create', '--name', 'x', '--repo', 'ftp://example.com/x'], api());
    expect(badRepo.code).toBe(2);
    expect(badRepo.stderr).toContain('repoUrl must be an https://, ssh:// or git@host:path URL');
    const unknown = await cli(['hook', 'list', '--service', 'svc_doesnotexist'], api());
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('service svc_doesnotexist not found');
    const noApi = await cli(['service', 'list']);
    expect(noApi.code).toBe(2);
    expect(noApi.stderr).toContain('--api URL is required');
  });
});

describe('--help', () => {
  it('exits 0 with usage for the CLI and each command', async () => {
    const runs = await Promise.all(
      [[], ['deploy'], ['service', 'create'], ['service', 'list'], ['hook', 'create'], ['hook', 'list'], ['hook', 'revoke'], ['token', 'create']].map(
        (words) => cli([...words, '--help']),
      ),
    );
    for (const run of runs) {
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^(Usage|stackblaze):? /m);
    }
    expect(runs[0]!.stdout).toContain('Exit codes:');
    expect(runs[1]!.stdout).toContain('--idempotency-key KEY');
    expect(runs[1]!.stdout).toContain('5  the wait gave up');
  });
});
