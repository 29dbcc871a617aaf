// The live page: services, their deployments and hooks, with status pushed over the
// deploymentEvents subscription (GraphQL over SSE). Plain browser JavaScript, no build step.
//
// Everything the server sends is put into the page as text (textContent, Text nodes, input
// values), never parsed as markup; the Content-Security-Policy's Trusted Types rule makes any
// `innerHTML = string` fail loudly.

const TOKEN_KEY = 'stackblaze.apiToken';
const SERVICE_KEY = 'stackblaze.serviceId';
const PAGE_SIZE = 20;
/** Live events keep adding rows; beyond this many the oldest are dropped from the table. */
const MAX_ROWS = 50;
/** Reconnect backoff: from RETRY_MIN_MS, doubling up to RETRY_MAX_MS, with jitter. */
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 15_000;
/** A stream that stayed up this long was healthy: the next drop starts the backoff afresh. */
const STABLE_STREAM_MS = 5_000;
/** The server pings every 12 s; this long without a byte means the connection is dead. */
const SILENCE_LIMIT_MS = 30_000;

const STATUS_LABELS = {
  QUEUED: 'queued',
  RUNNING: 'running',
  CANCELLING: 'cancelling',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TIMED_OUT: 'timed out',
};
const CANCELLABLE = new Set(['QUEUED', 'RUNNING']);

const DEPLOYMENT_FIELDS = `id status reason message branch clearCache createdAt updatedAt startedAt finishedAt
  hook { name } triggeredBy { name }`;
const VIEWER_QUERY = 'query LivePageViewer { viewer { role organization { name } } }';
const SERVICES_QUERY = `query LivePageServices {
  services(first: 100) { edges { node { id name slug repoUrl defaultBranch } } }
}`;
const DEPLOYMENTS_QUERY = `query LivePageDeployments($serviceId: ID!) {
  deployments(serviceId: $serviceId, first: ${PAGE_SIZE}) { edges { node { ${DEPLOYMENT_FIELDS} } } }
}`;
const EVENTS_SUBSCRIPTION = `subscription LivePageEvents($serviceId: ID!) {
  deploymentEvents(serviceId: $serviceId) { deploymentId sequence status deployment { ${DEPLOYMENT_FIELDS} } }
}`;
const TRIGGER_MUTATION = `mutation LivePageTrigger($input: TriggerDeploymentInput!) {
  triggerDeployment(input: $input) { deployment { ${DEPLOYMENT_FIELDS} } }
}`;
const CANCEL_MUTATION = `mutation LivePageCancel($id: ID!) {
  cancelDeployment(id: $id) { deployment { ${DEPLOYMENT_FIELDS} } }
}`;
const CREATE_HOOK_MUTATION = `mutation LivePageCreateHook($input: CreateDeployHookInput!) {
  createDeployHook(input: $input) { hook { id name } url }
}`;

const $ = (id) => document.getElementById(id);
const ui = {
  connection: $('connection'),
  who: $('who'),
  signOut: $('sign-out'),
  signIn: $('sign-in'),
  signInForm: $('sign-in-form'),
  token: $('token'),
  signInError: $('sign-in-error'),
  dashboard: $('dashboard'),
  service: $('service'),
  serviceDetails: $('service-details'),
  noServices: $('no-services'),
  servicesError: $('services-error'),
  readOnly: $('read-only'),
  triggerForm: $('trigger-form'),
  branch: $('branch'),
  clearCache: $('clear-cache'),
  triggerError: $('trigger-error'),
  hookForm: $('hook-form'),
  hookName: $('hook-name'),
  hookError: $('hook-error'),
  hookCreated: $('hook-created'),
  hookCreatedFor: $('hook-created-for'),
  hookUrl: $('hook-url'),
  copyHookUrl: $('copy-hook-url'),
  copyStatus: $('copy-status'),
  hookDone: $('hook-done'),
  deploymentsNote: $('deployments-note'),
  deploymentsError: $('deployments-error'),
  deploymentsTable: $('deployments'),
  deploymentsBody: document.querySelector('#deployments tbody'),
  noDeployments: $('no-deployments'),
};

const state = {
  token: null,
  viewer: null,
  services: [],
  service: null,
  /** id -> the newest snapshot seen of that deployment */
  deployments: new Map(),
  listLoaded: false,
  /** The open (or reconnecting) subscription for the selected service. */
  stream: null,
  /** Bumped on every service switch and sign-out: answers for an older selection are dropped. */
  generation: 0,
};

class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// Talking to the API

function requestHeaders(accept) {
  return { 'content-type': 'application/json', accept, authorization: `Bearer ${state.token}` };
}

async function gql(query, variables = {}) {
  let res;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: requestHeaders('application/graphql-response+json, application/json'),
      body: JSON.stringify({ query, variables }),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError('The server could not be reached. Check the connection and try again.', 'NETWORK');
  }
  let body = null;
  try {
    body = await res.json();
  } catch {
    // Not JSON (a proxy's error page): the status says enough.
  }
  if (res.status === 401) throw new ApiError('This API token was not accepted. Paste the whole token, including its sbapi_ prefix.', 'UNAUTHENTICATED');
  if (res.status === 429) {
    const wait = res.headers.get('retry-after');
    throw new ApiError(`Too many attempts. Try again${wait ? ` in ${wait} s` : ' shortly'}.`, 'RATE_LIMITED');
  }
  const first = body && Array.isArray(body.errors) ? body.errors[0] : null;
  if (first) throw new ApiError(String(first.message ?? 'The request failed.'), first.extensions?.code);
  if (!res.ok || !body || !body.data) throw new ApiError(`The server answered ${res.status}. Try again shortly.`, 'HTTP');
  return body.data;
}

/** Splits a text/event-stream body into `{ event, data }` messages; comments (pings) only count as activity. */
async function* readEventStream(body, onActivity) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const boundary = /\r\n\r\n|\n\n|\r\r/;
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      onActivity();
      buffer += value;
      for (let match = boundary.exec(buffer); match; match = boundary.exec(buffer)) {
        const block = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        const message = parseEventBlock(block);
        if (message) yield message;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

function parseEventBlock(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (data.length === 0 && event === 'message') return null;
  return { event, data: data.join('\n') };
}

// ---------------------------------------------------------------------------------------------
// Building the page: elements and text nodes only

/** `el('td', { class: 'x' }, 'text', child)`: strings become Text nodes, never markup. */
function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value == null || value === false) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child != null && child !== false) node.append(child);
  }
  return node;
}

function showMessage(element, message) {
  element.textContent = message ?? '';
  element.hidden = !message;
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dayAndTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const fullTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'full', timeStyle: 'long' });

function timeElement(iso) {
  if (!iso) return '—';
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return '—';
  const today = at.toDateString() === new Date().toDateString();
  return el('time', { datetime: at.toISOString(), title: fullTime.format(at) }, (today ? timeOfDay : dayAndTime).format(at));
}

function formatDuration(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

/** Finished: how long it ran. In progress: a counter the clock below keeps current. */
function durationElement(d) {
  const started = d.startedAt ? Date.parse(d.startedAt) : null;
  const finished = d.finishedAt ? Date.parse(d.finishedAt) : null;
  if (finished !== null) return el('span', {}, started !== null ? formatDuration(finished - started) : '—');
  if (d.status === 'QUEUED') return el('span', { class: 'ticking', 'data-since': d.createdAt, 'data-prefix': 'waiting ' }, '');
  if (started !== null) return el('span', { class: 'ticking', 'data-since': d.startedAt, 'data-prefix': '' }, '');
  return el('span', {}, '—');
}

function updateClocks() {
  for (const node of document.querySelectorAll('[data-since]')) {
    node.textContent = `${node.dataset.prefix}${formatDuration(Date.now() - Date.parse(node.dataset.since))}`;
  }
}

function badge(status) {
  const label = STATUS_LABELS[status] ?? String(status).toLowerCase();
  return el('span', { class: `badge badge-${String(status).toLowerCase().replace(/[^a-z_]/g, '')}` }, label);
}

function deploymentRow(d) {
  const origin = d.hook ? `via hook ${d.hook.name}` : d.triggeredBy ? `by ${d.triggeredBy.name}` : null;
  const canCancel = CANCELLABLE.has(d.status) && state.viewer?.role !== 'VIEWER';
  return el(
    'tr',
    { 'data-deployment-id': d.id, 'data-status': d.status },
    el('td', {}, badge(d.status)),
    el(
      'td',
      {},
      el('div', { class: 'mono' }, d.id),
      el('div', { class: 'muted small' }, el('span', { class: 'branch' }, d.branch), origin ? ` · ${origin}` : '', d.clearCache ? ' · cache cleared' : ''),
    ),
    el(
      'td',
      { class: 'reason' },
      d.reason ? el('div', { class: 'reason-name' }, d.reason) : null,
      d.message ? el('div', { class: 'muted small message' }, d.message) : null,
      !d.reason && !d.message ? el('span', { class: 'muted' }, '—') : null,
    ),
    el('td', { class: 'nowrap' }, timeElement(d.createdAt)),
    el('td', { class: 'nowrap' }, durationElement(d)),
    el('td', { class: 'actions' }, canCancel ? el('button', { type: 'button', class: 'button-danger', onclick: () => cancelDeployment(d.id) }, 'Cancel') : null),
  );
}

/** Newest first, as the API lists them. */
function isNewer(a, b) {
  if (a.createdAt !== b.createdAt) return Date.parse(a.createdAt) > Date.parse(b.createdAt);
  return a.id > b.id;
}

/** Takes a snapshot of a deployment from anywhere (list, event, mutation); an older one than shown is ignored. */
function applyDeployment(d) {
  const known = state.deployments.get(d.id);
  if (known && Date.parse(known.updatedAt) > Date.parse(d.updatedAt)) return;
  state.deployments.set(d.id, d);
  const row = deploymentRow(d);
  const existing = ui.deploymentsBody.querySelector(`tr[data-deployment-id="${CSS.escape(d.id)}"]`);
  if (existing) {
    if (known?.status !== d.status) row.classList.add('changed');
    existing.replaceWith(row);
  } else {
    const before = [...ui.deploymentsBody.rows].find((r) => {
      const other = state.deployments.get(r.dataset.deploymentId);
      return other && isNewer(d, other);
    });
    ui.deploymentsBody.insertBefore(row, before ?? null);
    if (state.listLoaded) row.classList.add('changed');
    while (ui.deploymentsBody.rows.length > MAX_ROWS) {
      const last = ui.deploymentsBody.rows[ui.deploymentsBody.rows.length - 1];
      state.deployments.delete(last.dataset.deploymentId);
      last.remove();
    }
  }
  updateClocks();
  renderDeploymentsState();
}

function renderDeploymentsState() {
  const empty = ui.deploymentsBody.rows.length === 0;
  ui.noDeployments.hidden = !(empty && state.listLoaded);
  ui.deploymentsTable.hidden = empty;
}

function clearDeployments() {
  state.deployments.clear();
  state.listLoaded = false;
  ui.deploymentsBody.replaceChildren();
  showMessage(ui.deploymentsError, null);
  renderDeploymentsState();
}

function setConnection(status, detail) {
  const labels = { connecting: 'Connecting…', live: 'Live', retrying: 'Reconnecting…', off: '' };
  ui.connection.dataset.state = status;
  ui.connection.textContent = labels[status];
  ui.connection.title = detail ?? '';
  ui.connection.hidden = status === 'off';
  ui.deploymentsNote.textContent = status === 'retrying' ? 'Live updates paused: reconnecting…' : '';
}

// ---------------------------------------------------------------------------------------------
// The live stream

function stopStream() {
  const stream = state.stream;
  state.stream = null;
  if (!stream) return;
  clearTimeout(stream.timer);
  clearTimeout(stream.watchdog);
  stream.controller.abort();
  setConnection('off');
}

function startStream(serviceId) {
  stopStream();
  const stream = { serviceId, controller: new AbortController(), attempt: 0, timer: null, watchdog: null, openedAt: 0 };
  state.stream = stream;
  void connect(stream);
}

async function connect(stream) {
  if (state.stream !== stream) return;
  setConnection(stream.attempt === 0 ? 'connecting' : 'retrying');
  // Each attempt gets its own controller, so the silence watchdog can end one attempt alone.
  const attempt = new AbortController();
  const abortAttempt = () => attempt.abort();
  stream.controller.signal.addEventListener('abort', abortAttempt);
  const alive = () => {
    clearTimeout(stream.watchdog);
    stream.watchdog = setTimeout(abortAttempt, SILENCE_LIMIT_MS);
  };
  let failure = null;
  try {
    const res = await fetch('/graphql', {
      method: 'POST',
      headers: requestHeaders('text/event-stream'),
      body: JSON.stringify({ query: EVENTS_SUBSCRIPTION, variables: { serviceId: stream.serviceId } }),
      cache: 'no-store',
      signal: attempt.signal,
    });
    if (res.status === 401) return void sessionRefused();
    if (!res.ok || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
      throw new Error(`the server refused the live stream (${res.status})`);
    }
    stream.openedAt = Date.now();
    alive();
    setConnection('live');
    // Events are collected from here on; whatever happened while no stream was open (the first
    // load, or a drop) is in the list, so read it again now.
    void loadDeployments(stream.serviceId);
    for await (const message of readEventStream(res.body, alive)) {
      if (state.stream !== stream) return;
      if (message.event === 'complete') break;
      if (message.event !== 'next') continue;
      const payload = JSON.parse(message.data);
      if (payload.errors?.length) throw new Error(String(payload.errors[0].message));
      const event = payload.data?.deploymentEvents;
      if (event?.deployment) applyDeployment(event.deployment);
    }
    // deploymentEvents never completes on its own: the server is restarting or draining.
  } catch (error) {
    failure = error;
  } finally {
    clearTimeout(stream.watchdog);
    stream.controller.signal.removeEventListener('abort', abortAttempt);
  }
  if (state.stream !== stream || stream.controller.signal.aborted) return;
  scheduleReconnect(stream, failure);
}

function scheduleReconnect(stream, failure) {
  if (stream.openedAt && Date.now() - stream.openedAt >= STABLE_STREAM_MS) stream.attempt = 0;
  stream.openedAt = 0;
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** stream.attempt);
  const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  stream.attempt += 1;
  const why = failure instanceof Error && failure.name !== 'AbortError' ? `${failure.message}; ` : '';
  setConnection('retrying', `${why}next attempt in ${formatDuration(delay)}`);
  stream.timer = setTimeout(() => {
    stream.timer = null;
    void connect(stream);
  }, delay);
}

/** Back online (or back in view): a stream waiting out its backoff tries again now. */
function reconnectNow() {
  const stream = state.stream;
  if (!stream || stream.timer === null) return;
  clearTimeout(stream.timer);
  stream.timer = null;
  void connect(stream);
}

// ---------------------------------------------------------------------------------------------
// Actions

async function loadDeployments(serviceId) {
  const generation = state.generation;
  try {
    const data = await gql(DEPLOYMENTS_QUERY, { serviceId });
    if (generation !== state.generation) return;
    showMessage(ui.deploymentsError, null);
    state.listLoaded = true;
    for (const edge of data.deployments.edges) applyDeployment(edge.node);
    renderDeploymentsState();
  } catch (error) {
    if (generation === state.generation) report(ui.deploymentsError, error);
  }
}

async function loadServices() {
  try {
    const data = await gql(SERVICES_QUERY);
    state.services = data.services.edges.map((edge) => edge.node);
    showMessage(ui.servicesError, null);
  } catch (error) {
    return report(ui.servicesError, error);
  }
  ui.service.replaceChildren(...state.services.map((s) => el('option', { value: s.id }, s.name)));
  ui.noServices.hidden = state.services.length > 0;
  ui.service.disabled = state.services.length === 0;
  const remembered = sessionStorage.getItem(SERVICE_KEY);
  const initial = state.services.find((s) => s.id === remembered) ?? state.services[0] ?? null;
  selectService(initial);
}

function selectService(service) {
  state.generation += 1;
  stopStream();
  clearDeployments();
  state.service = service;
  showMessage(ui.triggerError, null);
  showMessage(ui.hookError, null);
  ui.serviceDetails.replaceChildren();
  setFormsEnabled();
  if (!service) return;
  ui.service.value = service.id;
  sessionStorage.setItem(SERVICE_KEY, service.id);
  ui.branch.placeholder = service.defaultBranch;
  ui.serviceDetails.append(
    el('dt', {}, 'Repository'),
    el('dd', { class: 'mono small' }, service.repoUrl),
    el('dt', {}, 'Default branch'),
    el('dd', { class: 'mono small' }, service.defaultBranch),
    el('dt', {}, 'ID'),
    el('dd', { class: 'mono small' }, service.id),
  );
  // The list is read once the stream is open, so nothing falls between the two.
  startStream(service.id);
}

function setFormsEnabled() {
  const writable = Boolean(state.service) && state.viewer?.role !== 'VIEWER';
  for (const form of [ui.triggerForm, ui.hookForm]) {
    for (const control of form.elements) control.disabled = !writable;
  }
  ui.readOnly.hidden = state.viewer?.role !== 'VIEWER';
}

async function withBusy(form, action) {
  const controls = [...form.elements];
  for (const control of controls) control.disabled = true;
  try {
    await action();
  } finally {
    setFormsEnabled();
  }
}

async function triggerDeployment() {
  const service = state.service;
  if (!service) return;
  showMessage(ui.triggerError, null);
  const branch = ui.branch.value.trim();
  const input = { serviceId: service.id, clearCache: ui.clearCache.checked, ...(branch ? { branch } : {}) };
  try {
    const data = await gql(TRIGGER_MUTATION, { input });
    if (state.service === service) applyDeployment(data.triggerDeployment.deployment);
  } catch (error) {
    report(ui.triggerError, error);
  }
}

async function cancelDeployment(id) {
  showMessage(ui.deploymentsError, null);
  const row = ui.deploymentsBody.querySelector(`tr[data-deployment-id="${CSS.escape(id)}"]`);
  const button = row?.querySelector('button');
  if (button) button.disabled = true;
  try {
    const data = await gql(CANCEL_MUTATION, { id });
    applyDeployment(data.cancelDeployment.deployment);
  } catch (error) {
    if (button) button.disabled = false;
    report(ui.deploymentsError, error);
  }
}

async function createHook() {
  const service = state.service;
  if (!service) return;
  showMessage(ui.hookError, null);
  const name = ui.hookName.value.trim();
  if (!name) return showMessage(ui.hookError, 'Give the hook a name, such as the CI system that will call it.');
  try {
    const data = await gql(CREATE_HOOK_MUTATION, { input: { serviceId: service.id, name } });
    const { hook, url } = data.createDeployHook;
    ui.hookName.value = '';
    ui.hookCreatedFor.textContent = `Hook “${hook.name}” for ${service.name}`;
    ui.hookUrl.value = url;
    showMessage(ui.copyStatus, null);
    ui.hookCreated.hidden = false;
    ui.hookUrl.focus();
    ui.hookUrl.select();
  } catch (error) {
    report(ui.hookError, error);
  }
}

async function copyHookUrl() {
  const url = ui.hookUrl.value;
  try {
    await navigator.clipboard.writeText(url);
  } catch {
    // No clipboard API (a page served over plain HTTP to another host): the selection route.
    ui.hookUrl.focus();
    ui.hookUrl.select();
    if (!document.execCommand('copy')) return showMessage(ui.copyStatus, 'Copying is blocked here: select the URL and copy it by hand.');
  }
  showMessage(ui.copyStatus, 'Copied to the clipboard.');
}

/** Forgets the one-time URL: it leaves the page and memory, as it leaves the server. */
function dismissHookUrl() {
  ui.hookUrl.value = '';
  ui.hookCreatedFor.textContent = '';
  showMessage(ui.copyStatus, null);
  ui.hookCreated.hidden = true;
}

function report(element, error) {
  if (error instanceof ApiError && error.code === 'UNAUTHENTICATED' && state.viewer) return sessionRefused();
  showMessage(element, error instanceof Error ? error.message : String(error));
}

// ---------------------------------------------------------------------------------------------
// Signing in and out

async function signIn(token, { remembered = false } = {}) {
  state.token = token;
  let data;
  try {
    data = await gql(VIEWER_QUERY);
  } catch (error) {
    state.token = null;
    sessionStorage.removeItem(TOKEN_KEY);
    const message = remembered && error.code === 'UNAUTHENTICATED' ? 'Your saved token is no longer accepted. Sign in again.' : error.message;
    showSignIn(message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  state.viewer = data.viewer;
  ui.token.value = '';
  ui.who.textContent = `${data.viewer.organization.name} · ${data.viewer.role.toLowerCase()}`;
  ui.signOut.hidden = false;
  ui.signIn.hidden = true;
  ui.dashboard.hidden = false;
  setFormsEnabled();
  await loadServices();
}

function signOut(message) {
  state.generation += 1;
  stopStream();
  clearDeployments();
  dismissHookUrl();
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(SERVICE_KEY);
  state.token = null;
  state.viewer = null;
  state.services = [];
  state.service = null;
  ui.service.replaceChildren();
  ui.serviceDetails.replaceChildren();
  ui.who.textContent = '';
  ui.signOut.hidden = true;
  ui.dashboard.hidden = true;
  showSignIn(message);
}

function sessionRefused() {
  signOut('The server no longer accepts this token (revoked, or the session ended). Sign in again.');
}

function showSignIn(message) {
  ui.dashboard.hidden = true;
  ui.signIn.hidden = false;
  showMessage(ui.signInError, message);
  ui.token.focus();
}

// ---------------------------------------------------------------------------------------------
// Wiring

function onSubmit(form, action) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void withBusy(form, action);
  });
}

ui.signInForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = ui.token.value.trim().replace(/^bearer\s+/i, '');
  if (!token) return showMessage(ui.signInError, 'Paste an API token first.');
  showMessage(ui.signInError, null);
  const controls = [...ui.signInForm.elements];
  for (const control of controls) control.disabled = true;
  void signIn(token).finally(() => {
    for (const control of controls) control.disabled = false;
  });
});
onSubmit(ui.triggerForm, triggerDeployment);
onSubmit(ui.hookForm, createHook);
ui.service.addEventListener('change', () => selectService(state.services.find((s) => s.id === ui.service.value) ?? null));
ui.copyHookUrl.addEventListener('click', () => void copyHookUrl());
ui.hookDone.addEventListener('click', dismissHookUrl);
ui.signOut.addEventListener('click', () => signOut(null));
window.addEventListener('online', reconnectNow);
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible') reconnectNow();
});
setInterval(updateClocks, 1_000);

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void signIn(saved, { remembered: true });
else showSignIn(null);
