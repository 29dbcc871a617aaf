import type { DeploymentStatus } from '../db/tables/deployments.js';

/** The parts of a Tekton PipelineRun that decide its deployment status. */
export interface PipelineRunLike {
  metadata?: { name?: string; resourceVersion?: string; deletionTimestamp?: string | Date };
  spec?: { status?: string };
  status?: {
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
    startTime?: string | Date;
    completionTime?: string | Date;
    childReferences?: Array<{ name?: string; pipelineTaskName?: string }>;
  };
}

export interface MappedStatus {
  status: DeploymentStatus;
  reason: string | null;
  message: string | null;
}

const CANCEL_REQUESTS = new Set(['Cancelled', 'CancelledRunFinally', 'StoppedRunFinally']);
const CANCELLING_REASONS = new Set(['Cancelled', 'CancelledRunningFinally', 'StoppedRunningFinally', 'PipelineRunStopping']);
const CANCELLED_REASONS = new Set(['Cancelled', 'PipelineRunCancelled']);

/**
 * DESIGN.md section 6: only the `Succeeded` condition counts, and only its status and reason
 * decide; the message is passed through, never parsed.
 */
export function mapPipelineRunStatus(run: PipelineRunLike): MappedStatus {
  const condition = run.status?.conditions?.find((c) => c.type === 'Succeeded');
  if (!condition) return { status: 'QUEUED', reason: run.spec?.status === 'PipelineRunPending' ? 'PipelineRunPending' : null, message: null };
  const reason = condition.reason || null;
  const message = condition.message || null;
  switch (condition.status) {
    case 'True':
      return { status: 'SUCCEEDED', reason, message };
    case 'False':
      if (reason && CANCELLED_REASONS.has(reason)) return { status: 'CANCELLED', reason, message };
      if (reason === 'PipelineRunTimeout') return { status: 'TIMED_OUT', reason, message };
      return { status: 'FAILED', reason, message };
    default:
      if (reason === 'PipelineRunPending') return { status: 'QUEUED', reason, message };
      if (CANCEL_REQUESTS.has(run.spec?.status ?? '') || (reason && CANCELLING_REASONS.has(reason))) {
        return { status: 'CANCELLING', reason, message };
      }
      return { status: 'RUNNING', reason, message };
  }
}

/** What a deployment becomes when its PipelineRun disappears before finishing. */
export const DELETED_BEFORE_FINISHING: MappedStatus = {
  status: 'FAILED',
  reason: 'PipelineRunDeleted',
  message: 'The PipelineRun was deleted before it finished.',
};
