import { setTimeout as sleep } from 'node:timers/promises';
import { ApiError, badRequest, internalError, serviceUnavailable } from './api-errors.js';
import { isJsonObject, type Json } from './kube-object.js';
import type { ObjectStore } from './store.js';
import type { WatchHub } from './watch.js';

/** Failures a test can switch on to see how clients of the cluster cope. */
export interface FaultController {
  /** End every open watch stream now (clean end of response). */
  dropWatches(): void;
  /** Send every open watch a 410 Expired ERROR event and end it; older resourceVersions now get 410 too. */
  expireWatches(): void;
  /** Keep open watches (and those opened until clear()) connected, but send nothing more on them. */
  stallWatches(): void;
  /** Fail PipelineRun creates with this status, for `count` requests or until clear(). */
  failCreates(status: 500 | 503, count?: number): void;
  /** Delay every response by `ms`. */
  setLatency(ms: number): void;
  /** Answer every request with 503 and drop open watches: an API outage. */
  setUnavailable(on: boolean): void;
  clear(): void;
}

/** The switches as `POST /_local/faults` reports them. */
export interface FaultState {
  failCreates: { status: 500 | 503; remaining: number | null } | null;
  latencyMs: number;
  unavailable: boolean;
  stallingWatches: boolean;
  openWatches: number;
}

export class Faults implements FaultController {
  private createFailure: { status: 500 | 503; remaining: number | undefined } | undefined;
  private latencyMs = 0;
  private outage = false;
  private stalling = false;

  constructor(
    private readonly store: ObjectStore,
    private readonly watches: WatchHub,
  ) {}

  dropWatches(): void {
    this.watches.dropAll();
  }

  expireWatches(): void {
    this.store.compactHistory();
    this.watches.expireAll();
  }

  stallWatches(): void {
    this.stalling = true;
    this.watches.stallAll();
  }

  failCreates(status: 500 | 503, count?: number): void {
    this.createFailure = { status, remaining: count };
  }

  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  setUnavailable(on: boolean): void {
    this.outage = on;
    if (on) this.watches.dropAll();
  }

  clear(): void {
    this.createFailure = undefined;
    this.latencyMs = 0;
    this.outage = false;
    this.stalling = false;
    this.watches.stopStalling();
  }

  get unavailable(): boolean {
    return this.outage;
  }

  /** Waits out the injected latency; rejects with an AbortError when the cluster stops meanwhile. */
  async delay(signal: AbortSignal): Promise<void> {
    if (this.latencyMs > 0) await sleep(this.latencyMs, undefined, { signal });
  }

  /** The error the next PipelineRun create must fail with, if creates are failing. */
  takeCreateFailure(): ApiError | undefined {
    const failure = this.createFailure;
    if (!failure) return undefined;
    if (failure.remaining !== undefined) {
      failure.remaining -= 1;
      if (failure.remaining <= 0) this.createFailure = undefined;
    }
    return failure.status === 503
      ? serviceUnavailable('injected fault: creates are failing')
      : internalError('injected fault: creates are failing');
  }

  /**
   * Applies a JSON command such as `{"failCreates":{"status":503,"count":2}}` or `{"clear":true}`;
   * `clear` goes first so one request can reset and set.
   */
  apply(command: Json): FaultState {
    if (!isJsonObject(command)) throw badRequest('expected a JSON object of faults');
    const known = ['clear', 'dropWatches', 'expireWatches', 'stallWatches', 'failCreates', 'latencyMs', 'unavailable'];
    const unknown = Object.keys(command).filter((key) => !known.includes(key));
    if (unknown.length > 0) throw badRequest(`unknown faults: ${unknown.join(', ')}; known: ${known.join(', ')}`);
    if (command.clear === true) this.clear();
    if (command.failCreates !== undefined) {
      const spec = command.failCreates;
      if (!isJsonObject(spec) || (spec.status !== 500 && spec.status !== 503)) {
        throw badRequest('failCreates needs {"status": 500 | 503, "count"?: number}');
      }
      if (spec.count !== undefined && (typeof spec.count !== 'number' || spec.count < 1)) {
        throw badRequest('failCreates.count must be a positive number');
      }
      this.failCreates(spec.status, spec.count);
    }
    if (command.latencyMs !== undefined) {
      if (typeof command.latencyMs !== 'number') throw badRequest('latencyMs must be a number');
      this.setLatency(command.latencyMs);
    }
    if (command.unavailable !== undefined) this.setUnavailable(command.unavailable === true);
    if (command.dropWatches === true) this.dropWatches();
    if (command.expireWatches === true) this.expireWatches();
    if (command.stallWatches === true) this.stallWatches();
    return this.state();
  }

  state(): FaultState {
    return {
      failCreates: this.createFailure
        ? { status: this.createFailure.status, remaining: this.createFailure.remaining ?? null }
        : null,
      latencyMs: this.latencyMs,
      unavailable: this.outage,
      stallingWatches: this.stalling,
      openWatches: this.watches.openWatches,
    };
  }
}
