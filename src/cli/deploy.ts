import { CliError, EXIT, UsageError, type ExitCode } from './exit-codes.js';
import { describeNetworkError, fetchWithRetry, refusal, RequestRefused, sleep, USER_AGENT } from './http.js';
import { formatTime, type Output } from './output.js';
import { readServerSentEvents } from './server-sent-events.js';

export interface DeployOptions {
  hookUrl: URL;
  branch: string | null;
  clearCache: boolean;
  wait: boolean;
  /** Bounds the whole command, retries and waiting included; null: no bound. */
  timeoutSeconds: number | null;
  /** Sent on every POST of this run, so retries and re-follows reach the same deployment. */
  idempotencyKey: string;
}

/** The hook route's 202 body (and its status URL's body). Statuses are lower case. */
export interface HookDeployment {
  id: string;
  status: string;
  serviceId: string;
  branch: string;
  clearCache: boolean;
  reason: string | null;
  message: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  statusUrl: string;
}

/** One `event: status` of the follow stream. */
export interface StatusEvent {
  id: string;
  sequence: number;
  status: string;
  previousStatus: string | null;
  reason: string | null;
  message: string | null;
  at: string;
}

const TERMINAL_EXIT: Record<string, ExitCode> = {
  succeeded: EXIT.OK,
  failed: EXIT.FAILED,
  cancelled: EXIT.CANCELLED,
  timed_out: EXIT.TIMED_OUT,
};

function isTerminal(status: string): boolean {
  return status in TERMINAL_EXIT;
}

/** How often the POST is retried on 429/502/503/504 or when no answer came. */
const POST_RETRIES = 5;
/** Consecutive resumes without any new event before the CLI gives up (exit 5). */
const MAX_RESUMES = 5;
/** The server sends a keep-alive comment every 15 s; three missed ones mean the stream is dead. */
const STREAM_IDLE_MS = 45_000;
/** Only when the server has no follow mode: how often the status URL is read. */
const POLL_INTERVAL_MS = 5_000;

/** `/hooks/{serviceId}/{token}` exactly, as the server hands it out. */
export function parseHookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError('--hook is not a URL; expected https://HOST/hooks/SERVICE_ID/TOKEN', 'deploy');
  }
  const segments = url.pathname.replace(/\/+$/, '').split('/');
  const hooksAt = segments.lastIndexOf('hooks');
  if ((url.protocol !== 'https:' && url.protocol !== 'http:') || hooksAt === -1 || segments.length !== hooksAt + 3) {
    throw new UsageError('--hook must be a deploy hook URL: https://HOST/hooks/SERVICE_ID/TOKEN', 'deploy');
  }
  url.pathname = segments.join('/');
  url.hash = '';
  return url;
}

/** The hook token is the URL's secret: show its recognisable prefix only. */
export function redactHookUrl(raw: string): string {
  return raw.replace(/(\/hooks\/[^/]+\/)([^/?#]+)/, (_, head: string, token: string) => `${head}${token.slice(0, token.indexOf('_') + 5)}…`);
}

/**
 * `stackblaze deploy`: POSTs the hook and, with --wait, follows the deployment through the hook
 * route's follow mode (server-sent events) until its terminal status.
 *
 * A dropped stream loses nothing: the CLI POSTs again with the same Idempotency-Key, which the
 * server answers with the same deployment and its events from the first, and skips the sequences
 * it already printed. When that is not possible, the status URL (a GET) still tells the outcome.
 */
export async function runDeploy(options: DeployOptions, out: Output): Promise<ExitCode> {
  const timeout = new AbortController();
  const timer = options.timeoutSeconds === null
    ? null
    : setTimeout(() => timeout.abort(new WaitTimedOut(options.timeoutSeconds!)), options.timeoutSeconds * 1000);
  const run = new DeployRun(options, out, timeout.signal);
  try {
    return options.wait ? await run.follow() : await run.trigger();
  } catch (error) {
    if (error instanceof WaitTimedOut) return run.gaveUp(error.message);
    throw error;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

class WaitTimedOut extends Error {
  constructor(seconds: number) {
    super(`gave up after --timeout ${seconds}s`);
  }
}

/** The stream or request failed in a way a later attempt may not. */
class StreamLost extends Error {}

/** The `error` field of a follow stream's `error` event. */
function serverReason(data: string): string {
  try {
    const body = JSON.parse(data) as { error?: unknown };
    if (typeof body.error === 'string' && body.error) return body.error;
  } catch {
    // Not JSON: say so rather than print whatever it is.
  }
  return 'no reason given';
}

class DeployRun {
  private deployment: HookDeployment | null = null;
  private lastSequence = 0;
  private lastStatus: string | null = null;
  private lastMessage: string | null = null;
  /** Counts deployment and status events taken in, so a resume that made progress resets the budget. */
  private progress = 0;

  constructor(
    private readonly options: DeployOptions,
    private readonly out: Output,
    private readonly signal: AbortSignal,
  ) {}

  /** Without --wait: one POST, then the ID and the status URL. */
  async trigger(): Promise<ExitCode> {
    const response = await this.post('application/json', true);
    this.accepted((await response.json()) as HookDeployment);
    return EXIT.OK;
  }

  async follow(): Promise<ExitCode> {
    let failures = 0;
    for (;;) {
      const progressBefore = this.progress;
      let why: string;
      try {
        const outcome = await this.followOnce();
        if (outcome !== null) return this.finish(outcome);
        why = 'the stream ended before the deployment finished';
      } catch (error) {
        if (this.signal.aborted) throw this.signal.reason;
        // Refused or unreachable before anything was accepted: there is nothing to follow.
        if (error instanceof CliError && !this.deployment) throw error;
        // Another deployment for our key: following it would report the wrong outcome.
        if (error instanceof CliError && error.exitCode === EXIT.OUTCOME_UNKNOWN) throw error;
        why = error instanceof Error ? error.message : String(error);
        if (error instanceof RequestRefused) {
          // Refused now (a revoked hook, say) though accepted before: only the status URL is left.
          const final = await this.readFinalStatus();
          if (final) return this.finish(final);
          return this.gaveUp(why);
        }
      }
      const final = await this.readFinalStatus();
      if (final) return this.finish(final);
      failures = this.progress > progressBefore ? 1 : failures + 1;
      if (failures > MAX_RESUMES) return this.gaveUp(`${why}; ${MAX_RESUMES} attempts to resume failed`);
      const wait = Math.min(30, 2 ** (failures - 1));
      this.out.note(`status stream interrupted (${why}); resuming in ${wait}s`);
      await sleep(wait * 1000, this.signal);
    }
  }

  /**
   * One POST in follow mode and its stream, to the end. Returns the terminal status, or null when
   * the stream ended early; throws when it broke.
   */
  private async followOnce(): Promise<string | null> {
    const idle = new AbortController();
    const signal = AbortSignal.any([this.signal, idle.signal]);
    const response = await this.post('text/event-stream', this.deployment === null, signal);
    if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
      // A server without follow mode answers the plain 202: fall back to reading the status URL.
      this.accepted((await response.json()) as HookDeployment);
      return this.poll();
    }
    if (!response.body) throw new StreamLost('the server sent no body');

    let idleTimer: NodeJS.Timeout | undefined;
    const activity = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => idle.abort(new StreamLost(`no data from the server for ${STREAM_IDLE_MS / 1000}s`)), STREAM_IDLE_MS);
    };
    activity();
    try {
      for await (const event of readServerSentEvents(response.body, activity)) {
        if (event.event === 'deployment') this.accepted(JSON.parse(event.data) as HookDeployment);
        else if (event.event === 'status') {
          const status = JSON.parse(event.data) as StatusEvent;
          this.transition(status);
          if (isTerminal(status.status)) return status.status;
        } else if (event.event === 'error') {
          // The server cut the stream short (a replica shutting down): not an outcome, so resume.
          throw new StreamLost(`the server ended the stream: ${serverReason(event.data)}`);
        }
      }
      return null;
    } catch (error) {
      if (this.signal.aborted) throw this.signal.reason;
      if (idle.signal.aborted) throw idle.signal.reason;
      if (error instanceof CliError || error instanceof StreamLost) throw error;
      throw new StreamLost(describeNetworkError(error));
    } finally {
      clearTimeout(idleTimer);
    }
  }

  /**
   * POSTs the hook with this run's Idempotency-Key. `first`: refusals are the command's error;
   * later (a re-follow) they are too, and the caller falls back to the status URL.
   */
  private async post(accept: string, first: boolean, signal: AbortSignal = this.signal): Promise<Response> {
    const url = new URL(this.options.hookUrl);
    if (this.options.branch !== null) url.searchParams.set('branch', this.options.branch);
    if (this.options.clearCache) url.searchParams.set('clear_cache', 'true');
    const response = await fetchWithRetry(
      () =>
        fetch(url, {
          method: 'POST',
          headers: { accept, 'idempotency-key': this.options.idempotencyKey, 'user-agent': USER_AGENT },
          signal,
        }),
      {
        retries: POST_RETRIES,
        // Safe to repeat: the Idempotency-Key makes a second POST return the first deployment.
        retryNetworkErrors: true,
        signal,
        onRetry: (why, wait) => this.out.note(`${first ? 'deploy hook' : 'resuming'}: ${why}; retrying in ${wait}s`),
      },
    );
    if (response.status !== 202) {
      throw await refusal(response, first ? 'the deploy hook refused the request' : 'the deploy hook refused to resume');
    }
    return response;
  }

  /** The first time a deployment is seen: its ID and status URL. Later: it must be the same one. */
  private accepted(deployment: HookDeployment): void {
    if (this.deployment) {
      if (deployment.id !== this.deployment.id) {
        throw new CliError(
          `resuming returned another deployment (${deployment.id}) for the same Idempotency-Key; not following it`,
          EXIT.OUTCOME_UNKNOWN,
        );
      }
      return;
    }
    this.deployment = deployment;
    this.progress++;
    this.out.record({ type: 'deployment', ...deployment });
    this.out.line(`deployment ${deployment.id} ${this.out.status(deployment.status)} (branch ${deployment.branch}${deployment.clearCache ? ', cache cleared' : ''})`);
    this.out.line(`status URL: ${redactHookUrl(deployment.statusUrl)}`);
  }

  /** Prints each status once, in sequence order, however many times a resumed stream repeats it. */
  private transition(event: StatusEvent): void {
    if (event.sequence <= this.lastSequence) return;
    this.lastSequence = event.sequence;
    this.lastStatus = event.status;
    this.lastMessage = event.message;
    this.progress++;
    this.out.record({ type: 'status', ...event });
    this.out.line(`${formatTime(event.at)}  ${this.out.status(event.status)}${event.reason ? `  (${event.reason})` : ''}`);
  }

  /**
   * The status URL's answer, when it shows a terminal status; printed as the last transition if
   * the stream had not shown it. null when it is not terminal or could not be read.
   */
  private async readFinalStatus(): Promise<string | null> {
    const current = await this.readStatusUrl().catch(() => null);
    if (!current || !isTerminal(current.status)) return null;
    this.showPolled(current);
    return current.status;
  }

  private async readStatusUrl(): Promise<HookDeployment | null> {
    if (!this.deployment) return null;
    const response = await fetchWithRetry(
      () => fetch(this.deployment!.statusUrl, { headers: { accept: 'application/json', 'user-agent': USER_AGENT }, signal: this.signal }),
      { retries: 2, retryNetworkErrors: true, signal: this.signal },
    );
    if (!response.ok) throw await refusal(response, 'the status URL refused the request');
    return (await response.json()) as HookDeployment;
  }

  /** A status read from the status URL, which carries no sequence: printed when it is new. */
  private showPolled(current: HookDeployment): void {
    if (current.status === this.lastStatus) return;
    const event = {
      id: current.id,
      sequence: null,
      status: current.status,
      previousStatus: this.lastStatus,
      reason: current.reason,
      message: current.message,
      at: current.finishedAt ?? current.updatedAt,
    };
    this.lastStatus = current.status;
    this.lastMessage = current.message;
    this.progress++;
    this.out.record({ type: 'status', ...event });
    this.out.line(`${formatTime(event.at)}  ${this.out.status(event.status)}${event.reason ? `  (${event.reason})` : ''}`);
  }

  /** Only for a server without follow mode. */
  private async poll(): Promise<string> {
    this.out.note('the server has no follow mode; reading the status URL every 5s');
    for (;;) {
      const current = await this.readStatusUrl();
      if (current) {
        this.showPolled(current);
        if (isTerminal(current.status)) return current.status;
      }
      await sleep(POLL_INTERVAL_MS, this.signal);
    }
  }

  private finish(status: string): ExitCode {
    const code = TERMINAL_EXIT[status] ?? EXIT.FAILED;
    if (code !== EXIT.OK && this.deployment) {
      // The status line showed the reason; the message says what went wrong, when there is one.
      const message = this.lastMessage;
      this.out.error(`deployment ${this.deployment.id} ${status}${message ? `: ${message}` : ''}`);
    }
    return code;
  }

  gaveUp(why: string): ExitCode {
    const where = this.deployment
      ? `deployment ${this.deployment.id} was ${this.lastStatus ?? 'queued'} when last seen and carries on; its status URL tells the outcome`
      : 'no deployment was confirmed';
    this.out.error(`${why}; ${where}`);
    return EXIT.OUTCOME_UNKNOWN;
  }
}
