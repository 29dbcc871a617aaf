import type { IncomingMessage } from 'node:http';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { clientAddress } from './respond.js';

/**
 * Abuse limits (rate-limiter-flexible, in memory per replica): accepted calls per hook, and
 * failed authentications per client address. A limit of 0 turns that limit off.
 */
export class AbuseLimits {
  private readonly perHook: RateLimiterMemory | null;
  private readonly authFailures: RateLimiterMemory | null;
  private readonly authFailureLimit: number;
  private readonly trustedProxies: number;

  constructor(props: { hookRateLimit: number; authFailureLimit: number; trustedProxies?: number }) {
    this.trustedProxies = props.trustedProxies ?? 0;
    this.perHook = props.hookRateLimit > 0 ? new RateLimiterMemory({ points: props.hookRateLimit, duration: 60 }) : null;
    this.authFailureLimit = props.authFailureLimit;
    this.authFailures = props.authFailureLimit > 0 ? new RateLimiterMemory({ points: props.authFailureLimit, duration: 60 }) : null;
  }

  /** The address limits are counted against (see TRUST_PROXY). */
  addressOf(req: IncomingMessage): string {
    return clientAddress(req, this.trustedProxies);
  }

  /** Seconds to wait when this address has failed too often; null when it may try. */
  async authBlockedFor(address: string): Promise<number | null> {
    if (!this.authFailures) return null;
    const state = await this.authFailures.get(address);
    if (!state || state.consumedPoints < this.authFailureLimit) return null;
    return retryAfterSeconds(state);
  }

  async recordAuthFailure(address: string): Promise<void> {
    if (!this.authFailures) return;
    await this.authFailures.penalty(address, 1);
  }

  /** Takes one call from the hook's budget; seconds to wait when it is spent, else null. */
  async consumeHookCall(hookId: string): Promise<number | null> {
    if (!this.perHook) return null;
    try {
      await this.perHook.consume(hookId);
      return null;
    } catch (error) {
      if (error instanceof RateLimiterRes) return retryAfterSeconds(error);
      throw error;
    }
  }
}

function retryAfterSeconds(state: RateLimiterRes): number {
  return Math.max(1, Math.ceil(state.msBeforeNext / 1000));
}
