import type { Generated } from 'kysely';
import type { DeploymentStatus } from './deployments.js';

/** Append-only: one row per status transition, numbered per deployment from 1. */
export interface DeploymentEventsTable {
  deployment_id: string;
  sequence: number;
  status: DeploymentStatus;
  previous_status: DeploymentStatus | null;
  reason: string | null;
  message: string | null;
  at: Generated<Date>;
}
