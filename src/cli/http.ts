import { CliError, EXIT } from './exit-codes.js';

export const USER_AGENT = 'stackblaze-cli';

/** Statuses that mean "not now": the request was not acted on, and the same request may succeed later. */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

/** The longest single wait a Retry-After header can impose before the CLI gives up instead. */
const MAX_RETRY_AFTER_SECONDS = 120;

export interface RetryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** Retry when no answer came at all. Only for requests that are safe to repeat (GETs, keyed POSTs). */
  retryNetworkErrors: boolean;
  /** Which answers to retry; by default 429, 502, 503, 504. */
  retryStatuses?: ReadonlySet<number>;
  /** Aborts waiting and requests (the --timeout). */
  signal?: AbortSignal;
  /** Told before each wait, e.g. to print "retrying in 5s". */
  onRetry?: (why: string, waitSeconds: number) => void;
}

/**
 * Runs `send` until it gets an answer that is not "try later", honouring Retry-After (seconds or
 * an HTTP date) and otherwise backing off 1, 2, 4... seconds, a bounded number of times. Any other
 * answer, 4xx included, is returned at once for the caller to report.
 */
export async function fetchWithRetry(send: () => Promise<Response>, policy: RetryPolicy): Promise<Response> {
  const retryStatuses = policy.retryStatuses ?? RETRYABLE_STATUSES;
  for (let attempt = 0; ; attempt++) {
    let response: Response;
    try {
      response = await send();
    } catch (error) {
      if (policy.signal?.aborted) throw policy.signal.reason;
      if (!policy.retryNetworkErrors || !isTransientNetworkError(error) || attempt >= policy.retries) {
        throw new CliError(`could not reach the server: ${describeNetworkError(error)}`);
      }
      const wait = backoffSeconds(attempt);
      policy.onRetry?.(describeNetworkError(error), wait);
      await sleep(wait * 1000, policy.signal);
      continue;
    }
    if (!retryStatuses.has(response.status) || attempt >= policy.retries) return response;
    const wait = retryAfterSeconds(response.headers.get('retry-after')) ?? backoffSeconds(attempt);
    const message = await errorMessage(response);
    if (wait > MAX_RETRY_AFTER_SECONDS) {
      throw new CliError(`${message} (HTTP ${response.status}); the server asks to wait ${wait}s, longer than this command waits`);
    }
    policy.onRetry?.(`${message} (HTTP ${response.status})`, wait);
    await sleep(wait * 1000, policy.signal);
  }
}

/** 1, 2, 4, 8, 16, then 30 seconds. */
export function backoffSeconds(attempt: number): number {
  return Math.min(30, 2 ** attempt);
}

/** Retry-After as delay-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | null {
  if (header === null) return null;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value);
  const at = Date.parse(value);
  if (Number.isNaN(at)) return null;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/**
 * The server's own words for a refusal: `{"error": "..."}` from the hook route, `{"errors":
 * [{"message"}]}` from GraphQL, else the status line. Consumes the body.
 */
export async function errorMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as { error?: unknown; errors?: Array<{ message?: unknown }> };
    if (typeof body.error === 'string') return body.error;
    const messages = (body.errors ?? []).map((e) => e.message).filter((m): m is string => typeof m === 'string');
    if (messages.length > 0) return messages.join('; ');
  } catch {
    // not JSON: a proxy's page, say
  }
  return response.statusText || `HTTP ${response.status}`;
}

/** The server answered, and the answer was no. */
export class RequestRefused extends CliError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message, status === 400 ? EXIT.USAGE : EXIT.FAILED);
    this.name = 'RequestRefused';
  }
}

/** A refusal in the server's words, with the matching exit code: 400 is a usage error, anything else a failure. */
export async function refusal(response: Response, what: string): Promise<RequestRefused> {
  return new RequestRefused(`${what} (HTTP ${response.status}): ${await errorMessage(response)}`, response.status);
}

/**
 * A refused, reset or timed-out connection, or a name lookup that failed for now: worth another
 * try. fetch's own refusals (a blocked port, a malformed URL) carry no system error code and are not.
 */
function isTransientNetworkError(error: unknown): boolean {
  const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string';
}

/** fetch's "fetch failed" says nothing; its cause (ECONNREFUSED, a TLS error...) does. */
export function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  if (cause instanceof Error) {
    const code = (cause as { code?: unknown }).code;
    return typeof code === 'string' ? `${code} (${cause.message})` : cause.message;
  }
  return error.message;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
