import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runCommand, runEntryPoint, type RunningProcess } from './support/process.js';

const dataDirs: string[] = [];
const running: RunningProcess[] = [];
afterAll(async () => {
  for (const p of running) if (p.child.exitCode === null) p.child.kill('SIGKILL');
  for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
});

async function gql(url: string, token: string, query: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return (await res.json()) as { data?: any; errors?: unknown[] };
}

it('starts with no configuration at all on an embedded PostgreSQL, prints the URL and a token once, keeps data across a restart, and exits 0 on SIGTERM', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-start-'));
  await chmod(dataDir, 0o755);
  dataDirs.push(dataDir);

  const first = runEntryPoint('src/main.ts', { DATA_DIR: dataDir, PORT: '0' });
  running.push(first);
  const [, graphqlUrl] = await first.waitFor(/GraphQL: (http:\/\/\S+\/graphql)/);
  const [, token] = await first.waitFor(/Admin API token \(shown once, store it now\): (sbapi_\S+)/);
  const [, readyMs] = first.output().match(/ready in (\d+) ms/)!;
  expect(Number(readyMs)).toBeLessThan(10_000);

  const created = await gql(graphqlUrl!, token!, 'mutation { createService(input: {name: "persisted", repoUrl: "https://github.com/acme/p"}) { service { id } } }');
  const serviceId = created.data.createService.service.id;
  first.child.kill('SIGTERM');
  expect(await first.exited).toBe(0);

  const second = runEntryPoint('src/main.ts', { DATA_DIR: dataDir, PORT: '0' });
  running.push(second);
  const [, url2] = await second.waitFor(/GraphQL: (http:\/\/\S+\/graphql)/);
  expect(second.output()).not.toContain('Admin API token');
  const read = await gql(url2!, token!, `{ service(id: "${serviceId}") { id name } }`);
  expect(read.data.service).toEqual({ id: serviceId, name: 'persisted' });

  // A second process on the same DATA_DIR is refused before it touches the running one's database.
  const intruder = runEntryPoint('src/main.ts', { DATA_DIR: dataDir, PORT: '0' });
  running.push(intruder);
  expect(await intruder.exited).toBe(1);
  expect(intruder.output()).toContain(`in use by process ${second.child.pid}`);
  const again = await gql(url2!, token!, `{ service(id: "${serviceId}") { id name } }`);
  expect(again.data.service).toEqual({ id: serviceId, name: 'persisted' });
  const ready = await fetch(new URL('/readyz', url2!));
  expect(ready.status).toBe(200);

  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
}, 60_000);

it('drains and exits 0 when `npm start` itself gets SIGTERM, leaving no server behind', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-npm-start-'));
  await chmod(dataDir, 0o755);
  dataDirs.push(dataDir);
  const npm = runCommand('npm', ['start'], { DATA_DIR: dataDir, PORT: '0' });
  running.push(npm);
  const [, graphqlUrl] = await npm.waitFor(/GraphQL: (http:\/\/\S+\/graphql)/, 30_000);
  npm.child.kill('SIGTERM');
  expect(await npm.exited).toBe(0);
  expect(npm.output()).toContain('"msg":"draining"');
  await expect(fetch(new URL('/healthz', graphqlUrl!))).rejects.toThrow();
}, 60_000);

it('after a kill -9 of the app and its database, starts again even when the stale pid file names an unrelated live process, and leaves that process alone', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-stale-pid-'));
  await chmod(dataDir, 0o755);
  dataDirs.push(dataDir);
  const first = runEntryPoint('src/main.ts', { DATA_DIR: dataDir, PORT: '0' });
  running.push(first);
  await first.waitFor(/GraphQL: (http:\/\/\S+\/graphql)/);
  const pidFile = path.join(dataDir, 'postgres', 'postmaster.pid');
  const [postmaster, ...rest] = (await readFile(pidFile, 'utf8')).split('\n');
  first.child.kill('SIGKILL');
  process.kill(Number(postmaster), 'SIGKILL');
  await first.exited;
  // The kernel handed the dead server's pid to something else, as after a container restart.
  const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
  const bystanderExit = new Promise((resolve) => bystander.once('exit', resolve));
  try {
    await writeFile(pidFile, [String(bystander.pid), ...rest].join('\n'));
    const second = runEntryPoint('src/main.ts', { DATA_DIR: dataDir, PORT: '0' });
    running.push(second);
    await second.waitFor(/GraphQL: (http:\/\/\S+\/graphql)/, 30_000);
    expect(bystander.exitCode).toBeNull();
    expect(bystander.signalCode).toBeNull();
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  } finally {
    bystander.kill('SIGKILL');
    await bystanderExit;
  }
}, 60_000);

it('refuses a bad configuration value with a clear message and exit code 1', async () => {
  const p = runEntryPoint('src/main.ts', { HOOK_RATE_LIMIT: 'lots' });
  running.push(p);
  expect(await p.exited).toBe(1);
  expect(p.output()).toContain('HOOK_RATE_LIMIT must be a whole number');
});
