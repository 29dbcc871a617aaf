import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page, type Request } from 'playwright-core';
import { createService, eventually, startTestApp, type TestApp } from './support/app.js';

/**
 * The live page at `/`, in a real headless Chromium against the real app: sign-in, services,
 * hooks, deployments that change status on screen as the Tekton stand-in advances them, and the
 * stream's recovery after it drops.
 */

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.resolve('test-results/live-page.png');
// Names with markup in them: the page must show them as text, never as elements.
const SERVICE_NAME = '<img src=x id=injected> checkout';
const HOOK_NAME = '<b id=injected-hook>github</b>';

let t: TestApp;
let context: BrowserContext;
let page: Page;
let userDataDir: string;
let serviceId: string;
let otherServiceId: string;
let hookUrl: string;
const pageProblems: string[] = [];
const graphqlRequests: Array<{ at: number; stream: boolean; body: string }> = [];

const row = (id: string) => page.locator(`tr[data-deployment-id="${id}"]`);

async function apiDeployment(id: string): Promise<{ status: string; reason: string | null; message: string | null }> {
  const r = await t.gql(t.adminToken, 'query($id: ID!) { deployment(id: $id) { status reason message } }', { id });
  return r.data.deployment;
}

async function postHook(query = ''): Promise<string> {
  const res = await fetch(hookUrl + query, { method: 'POST' });
  expect(res.status).toBe(202);
  return ((await res.json()) as { id: string }).id;
}

/** Status of every row the page inserts into the deployments table, in order (rows are replaced on change). */
async function recordRowStatuses(): Promise<void> {
  await page.evaluate(() => {
    const seen: Array<[string, string]> = [];
    (window as any).__rowStatuses = seen;
    new MutationObserver((mutations) => {
      for (const m of mutations) {
        for (const node of m.addedNodes) {
          if (node instanceof HTMLTableRowElement) seen.push([node.dataset.deploymentId!, node.dataset.status!]);
        }
      }
    }).observe(document.querySelector('#deployments tbody')!, { childList: true });
  });
}

async function rowStatuses(id: string): Promise<string[]> {
  const all = (await page.evaluate(() => (window as any).__rowStatuses)) as Array<[string, string]>;
  return all.filter(([rowId]) => rowId === id).map(([, status]) => status);
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} not found: install Debian's chromium package: apt-get install -y chromium`);
  }
  t = await startTestApp({ LOCAL_TEKTON: 'simulate' }, { tuning: { simulationStepMs: 300 } });
  serviceId = await createService(t, t.adminToken, SERVICE_NAME);
  otherServiceId = await createService(t, t.adminToken, 'billing');
  await t.app.watcher.whenSynced();

  userDataDir = await mkdtemp(path.join(os.tmpdir(), 'stackblaze-chromium-'));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1360, height: 900 },
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.app.url });
  page = context.pages()[0] ?? (await context.newPage());
  page.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') pageProblems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('request', (request: Request) => {
    if (new URL(request.url()).pathname !== '/graphql') return;
    graphqlRequests.push({ at: Date.now(), stream: request.headers()['accept'] === 'text/event-stream', body: request.postData() ?? '' });
  });
}, 90_000);

afterAll(async () => {
  await context?.close();
  if (userDataDir) await rm(userDataDir, { recursive: true, force: true });
  await t?.stop();
});

describe('the live page', () => {
  it('is served with a strict CSP, nosniff, no-referrer and no-store, with its script as a separate file', async () => {
    const res = await fetch(`${t.app.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp.split('; ')).toEqual(expect.arrayContaining(["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "require-trusted-types-for 'script'"]));
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    // Every script element loads a file of this origin; no inline script, handler or style.
    const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)];
    expect(scripts.map((m) => /\bsrc="([^"]+)"/.exec(m[1]!)?.[1])).toEqual(['/live-page/app.js']);
    expect(scripts.every((m) => m[2]!.trim() === '')).toBe(true);
    expect(html).not.toMatch(/\son[a-z]+=|\sstyle=|<style/i);

    const js = await fetch(`${t.app.url}/live-page/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    const etag = js.headers.get('etag')!;
    expect((await fetch(`${t.app.url}/live-page/app.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${t.app.url}/live-page/style.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    const post = await fetch(`${t.app.url}/`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${t.app.url}/live-page/other.js`)).status).toBe(404);
  });

  it('shows an error for a wrong token and keeps nothing', async () => {
    await page.goto(`${t.app.url}/`);
    await page.fill('#token', 'sbapi_this_is_not_a_valid_token_at_all');
    await page.click('#sign-in-form button[type=submit]');
    const error = page.locator('#sign-in-error');
    await error.waitFor({ state: 'visible' });
    expect(await error.textContent()).toContain('not accepted');
    expect(await page.locator('#dashboard').isVisible()).toBe(false);
    expect(await page.evaluate(() => sessionStorage.length + localStorage.length)).toBe(0);
  });

  it('signs in with the token kept in sessionStorage only, and lists services as text', async () => {
    await page.fill('#token', t.adminToken);
    await page.click('#sign-in-form button[type=submit]');
    await page.locator('#dashboard').waitFor({ state: 'visible' });
    expect(await page.locator('#sign-in-error').isVisible()).toBe(false);
    await page.locator('#service option').nth(1).waitFor({ state: 'attached' });
    const options = await page.locator('#service option').evaluateAll((nodes) => nodes.map((n) => [(n as HTMLOptionElement).value, n.textContent]));
    // Newest first, as the API lists them; the markup in a name stays text.
    expect(options).toEqual([[otherServiceId, 'billing'], [serviceId, SERVICE_NAME]]);
    expect(await page.locator('#injected').count()).toBe(0);
    const storage = await page.evaluate(() => ({ session: { ...sessionStorage }, local: localStorage.length, cookie: document.cookie }));
    expect(Object.values(storage.session)).toContain(t.adminToken);
    expect(storage.local).toBe(0);
    expect(storage.cookie).toBe('');
    expect(await page.locator('#who').textContent()).toContain('admin');
  });

  it('picks a service and creates a hook whose URL is shown once, can be copied, and works', async () => {
    await page.selectOption('#service', serviceId);
    await page.locator(`#service-details dd:text-is("${serviceId}")`).waitFor();
    await page.locator('#connection[data-state="live"]').waitFor();
    await page.fill('#hook-name', HOOK_NAME);
    await page.click('#hook-form button[type=submit]');
    await page.locator('#hook-created').waitFor({ state: 'visible' });
    hookUrl = await page.inputValue('#hook-url');
    expect(hookUrl).toMatch(new RegExp(`^${t.app.publicUrl}/hooks/${serviceId}/[A-Za-z0-9_-]{40,}$`));
    expect(await page.locator('#hook-created').textContent()).toMatch(/shown once/i);
    expect(await page.locator('#hook-created-for').textContent()).toBe(`Hook “${HOOK_NAME}” for ${SERVICE_NAME}`);

    await page.click('#copy-hook-url');
    await page.locator('#copy-status:text-is("Copied to the clipboard.")').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(hookUrl);

    // Dismissed, the URL is gone from the page for good.
    await page.click('#hook-done');
    expect(await page.locator('#hook-created').isVisible()).toBe(false);
    expect(await page.content()).not.toContain(hookUrl.split('/').pop()!);

    // The URL works, and the deployment it starts appears on the page by itself.
    await recordRowStatuses();
    const id = await postHook();
    await row(id).locator('.badge:text-is("succeeded")').waitFor({ timeout: 15_000 });
    expect(await row(id).locator('td').nth(1).textContent()).toContain(`via hook ${HOOK_NAME}`);
    expect(await page.locator('#injected-hook').count()).toBe(0);
    expect((await rowStatuses(id)).at(-1)).toBe('SUCCEEDED');
  });

  it('triggers a deployment and follows its row from queued to succeeded without a reload or a poll', async () => {
    await page.evaluate(() => ((window as any).__sameDocument = true));
    let navigations = 0;
    page.on('framenavigated', () => navigations++);
    await recordRowStatuses();

    await page.fill('#branch', 'main');
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.url().endsWith('/graphql') && (r.request().postData() ?? '').includes('LivePageTrigger')),
      page.click('#trigger-form button[type=submit]'),
    ]);
    const id = ((await response.json()) as any).data.triggerDeployment.deployment.id as string;
    const triggeredAt = Date.now();
    await row(id).waitFor();
    await row(id).locator('.badge:text-is("succeeded")').waitFor({ timeout: 15_000 });

    const statuses = await rowStatuses(id);
    expect(['QUEUED', 'RUNNING']).toContain(statuses[0]);
    expect(statuses.at(-1)).toBe('SUCCEEDED');
    expect(statuses.length).toBeGreaterThanOrEqual(2);
    expect(await page.evaluate(() => (window as any).__sameDocument)).toBe(true);
    expect(navigations).toBe(0);
    // Pushed over the open stream: no request went out after the trigger answered.
    expect(graphqlRequests.filter((r) => r.at > triggeredAt)).toEqual([]);

    // What the row says is what the API says.
    const api = await apiDeployment(id);
    expect(api.status).toBe('SUCCEEDED');
    expect(await row(id).locator('.reason-name').textContent()).toBe(api.reason);
    expect(await row(id).locator('.message').textContent()).toBe(api.message);
    expect(await row(id).locator('td').nth(1).textContent()).toContain('main');
    expect(await row(id).locator('button').count()).toBe(0);
  });

  it('shows a failure with its reason and message, live', async () => {
    const id = await postHook('?branch=simulate/fail');
    await row(id).locator('.badge:text-is("failed")').waitFor({ timeout: 15_000 });
    const api = await apiDeployment(id);
    expect(api.status).toBe('FAILED');
    expect(await row(id).locator('.reason-name').textContent()).toBe(api.reason);
    expect(await row(id).locator('.message').textContent()).toBe(api.message);
  });

  it('cancels a deployment that has not finished', async () => {
    // Kubernetes refuses creates, so the deployment waits in the queue with a Cancel button.
    t.app.localCluster!.faults.failCreates(503);
    try {
      await page.fill('#branch', '');
      await page.click('#trigger-form button[type=submit]');
      const waiting = page.locator('tr[data-status="QUEUED"]');
      await waiting.waitFor();
      const id = (await waiting.getAttribute('data-deployment-id'))!;
      await row(id).locator('button:text-is("Cancel")').click();
      await row(id).locator('.badge:text-is("cancelled")').waitFor();
      expect((await apiDeployment(id)).status).toBe('CANCELLED');
      expect(await row(id).locator('button').count()).toBe(0);
    } finally {
      t.app.localCluster!.faults.clear();
    }
  });

  it('reconnects after the stream drops and shows what finished meanwhile', async () => {
    // New streams fail while this route is in place; the open one is ended by the server.
    await context.route('**/graphql', (route) =>
      route.request().headers()['accept'] === 'text/event-stream' ? route.abort('connectionreset') : route.continue(),
    );
    t.app.services.streams.closeAll();
    await page.locator('#connection[data-state="retrying"]').waitFor();
    expect(await page.locator('#deployments-note').textContent()).toMatch(/reconnecting/i);

    const id = await postHook();
    await eventually(async () => ((await apiDeployment(id)).status === 'SUCCEEDED' ? true : undefined), 15_000, 'the deployment to succeed');
    // Nothing could have told the page yet.
    expect(await row(id).count()).toBe(0);

    await context.unroute('**/graphql');
    await row(id).locator('.badge:text-is("succeeded")').waitFor({ timeout: 20_000 });
    await page.locator('#connection[data-state="live"]').waitFor();
    expect(await page.locator('#deployments-note').textContent()).toBe('');
  });

  it('renders cleanly (screenshot) with no script, CSP or console errors', async () => {
    // A fresh hook so the one-time panel is in the picture next to the deployments.
    await page.fill('#hook-name', 'gitlab');
    await page.click('#hook-form button[type=submit]');
    await page.locator('#hook-created').waitFor({ state: 'visible' });
    const second = await page.inputValue('#hook-url');
    expect(second).not.toBe(hookUrl);
    expect(second.startsWith(`${t.app.publicUrl}/hooks/${serviceId}/`)).toBe(true);
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true, animations: 'disabled' });
    // The wrong token's 401 and the aborted stream attempts above are logged; nothing else may be.
    const unexpected = pageProblems.filter(
      (p) => !/^console error: Failed to load resource: (the server responded with a status of 401|net::ERR_CONNECTION_RESET)/.test(p),
    );
    expect(unexpected).toEqual([]);
    // The policy is in force in the browser: markup from a string is refused outright.
    const sink = await page.evaluate(() => {
      try {
        document.createElement('div').innerHTML = '<b>markup</b>';
        return 'accepted';
      } catch (error) {
        return String(error);
      }
    });
    expect(sink).toContain('TrustedHTML');
  });
});
