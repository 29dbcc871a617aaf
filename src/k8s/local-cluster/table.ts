import type { KubeObject } from './kube-object.js';
import type { ResourceType } from './resources.js';

/**
 * Server-side printing: kubectl asks for lists, objects and watch events `as=Table` and prints
 * the columns it gets, so `kubectl get pipelineruns` shows what it shows against real Tekton.
 */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',')[0]?.includes('as=Table') ?? false;
}

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  format?: string;
  description: string;
  cell: (object: KubeObject) => string | number | null;
}

const nameColumn: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  cell: (o) => o.metadata.name,
};

const ageColumn: Column = {
  name: 'Age',
  type: 'date',
  description: 'CreationTimestamp is when the object was created.',
  cell: (o) => o.metadata.creationTimestamp ?? null,
};

function succeededCondition(object: KubeObject): Record<string, unknown> | undefined {
  const conditions = object.status?.conditions;
  if (!Array.isArray(conditions)) return undefined;
  return conditions.find((c: { type?: unknown }) => c?.type === 'Succeeded') as Record<string, unknown> | undefined;
}

const stringAt = (value: unknown) => (typeof value === 'string' ? value : null);

/** The printer columns Tekton's CRD declares for PipelineRuns. */
const pipelineRunColumns: Column[] = [
  nameColumn,
  { name: 'Succeeded', type: 'string', description: '', cell: (o) => stringAt(succeededCondition(o)?.status) },
  { name: 'Reason', type: 'string', description: '', cell: (o) => stringAt(succeededCondition(o)?.reason) },
  { name: 'StartTime', type: 'date', description: '', cell: (o) => stringAt(o.status?.startTime) },
  { name: 'CompletionTime', type: 'date', description: '', cell: (o) => stringAt(o.status?.completionTime) },
];

interface PodContainerStatus {
  ready?: boolean;
  restartCount?: number;
}

const podColumns: Column[] = [
  nameColumn,
  {
    name: 'Ready',
    type: 'string',
    description: 'The aggregate readiness state of this pod for accepting traffic.',
    cell: (o) => {
      const statuses = (o.status?.containerStatuses ?? []) as PodContainerStatus[];
      const total = Array.isArray(o.spec?.containers) ? o.spec.containers.length : statuses.length;
      return `${statuses.filter((s) => s.ready).length}/${total}`;
    },
  },
  {
    name: 'Status',
    type: 'string',
    description: 'The aggregate status of the containers in this pod.',
    // kubectl shows the finished containers' reason rather than the phase.
    cell: (o) => ({ Succeeded: 'Completed', Failed: 'Error' })[String(o.status?.phase)] ?? stringAt(o.status?.phase) ?? 'Unknown',
  },
  {
    name: 'Restarts',
    type: 'string',
    description: 'The number of times the containers in this pod have been restarted.',
    cell: (o) => String(((o.status?.containerStatuses ?? []) as PodContainerStatus[]).reduce((n, s) => n + (s.restartCount ?? 0), 0)),
  },
  ageColumn,
];

function columnsFor(type: ResourceType): Column[] {
  if (type.plural === 'pipelineruns') return pipelineRunColumns;
  if (type.plural === 'pods') return podColumns;
  return [nameColumn, ageColumn];
}

export function toTable(
  type: ResourceType,
  objects: KubeObject[],
  listMetadata: { resourceVersion: string; continue?: string; remainingItemCount?: number },
  now: Date = new Date(),
): object {
  const columns = columnsFor(type);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMetadata,
    columnDefinitions: columns.map(({ name, type: columnType, format, description }) => ({
      name,
      type: columnType,
      format: format ?? '',
      description,
      priority: 0,
    })),
    rows: objects.map((object) => ({
      cells: columns.map((column) => {
        const value = column.cell(object);
        return column.type === 'date' && typeof value === 'string' ? humanDuration(now.getTime() - Date.parse(value)) : value;
      }),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata },
    })),
  };
}

/** Kubernetes' `duration.HumanDuration`: the ages kubectl shows ("45s", "3m12s", "5h", "12d"). */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  const minutes = Math.floor(seconds / 60);
  const hours = Math.floor(minutes / 60);
  const days = Math.floor(hours / 24);
  const years = Math.floor(days / 365);
  const pair = (big: number, bigUnit: string, small: number, smallUnit: string) =>
    small === 0 ? `${big}${bigUnit}` : `${big}${bigUnit}${small}${smallUnit}`;
  if (seconds < 120) return `${seconds}s`;
  if (minutes < 10) return pair(minutes, 'm', seconds % 60, 's');
  if (hours < 3) return `${minutes}m`;
  if (hours < 8) return pair(hours, 'h', minutes % 60, 'm');
  if (hours < 48) return `${hours}h`;
  if (days < 8) return pair(days, 'd', hours % 24, 'h');
  if (days < 365 * 2) return `${days}d`;
  if (years < 8) return pair(years, 'y', days % 365, 'd');
  return `${years}y`;
}
