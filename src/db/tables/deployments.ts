import type { Generated } from 'kysely';
import type { Timestamp } from './timestamp.js';

export const DEPLOYMENT_STATUSES = [
  'QUEUED',
  'RUNNING',
  'CANCELLING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
  'TIMED_OUT',
] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];
export const TERMINAL_STATUSES: readonly DeploymentStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];

export function isTerminal(status: DeploymentStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export interface DeploymentsTable {
  /** Also the PipelineRun's name. */
  id: string;
  organization_id: string;
  service_id: string;
  hook_id: string | null;
  triggered_by_token_id: string | null;
  branch: string;
  clear_cache: boolean;
  status: DeploymentStatus;
  reason: string | null;
  message: string | null;
  /** Highest deployment_events.sequence written for this deployment. */
  last_sequence: Generated<number>;
  idempotency_key: string | null;
  /** Outbox state: null until the PipelineRun exists (or the deployment ended without one). */
  dispatched_at: Timestamp | null;
  dispatch_attempts: Generated<number>;
  next_dispatch_at: Generated<Date>;
  created_at: Generated<Date>;
  updated_at: Generated<Date>;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
}
