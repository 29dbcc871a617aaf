import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mapPipelineRunStatus, type PipelineRunLike } from '../src/k8s/status-mapping.js';

const FIXTURES = new URL('../../shared/fixtures/tekton/', import.meta.url);

function fixture(name: string): PipelineRunLike {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));
}

/** The "report as" column of the fixtures' README, read from the README itself. */
function expectedFromReadme(): Map<string, string> {
  const readme = readFileSync(new URL('README.md', FIXTURES), 'utf8');
  const expected = new Map<string, string>();
  for (const match of readme.matchAll(/^\| (case-[\w-]+\.json) \|.*\| ([A-Z_]+) \|$/gm)) expected.set(match[1]!, match[2]!);
  return expected;
}

describe('mapPipelineRunStatus on real Tekton objects', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  const expected = expectedFromReadme();

  it('has an expectation for every fixture file', () => {
    expect(files.length).toBeGreaterThan(0);
    expect([...expected.keys()].sort()).toEqual([...files].sort());
  });

  it.each(files)('%s maps as the README says', (file) => {
    expect(mapPipelineRunStatus(fixture(file)).status).toBe(expected.get(file));
  });

  it('passes reason and message through untouched', () => {
    const failed = fixture('case-05-failed-task-failed.json');
    const condition = failed.status!.conditions!.find((c) => c.type === 'Succeeded')!;
    expect(mapPipelineRunStatus(failed)).toEqual({ status: 'FAILED', reason: condition.reason, message: condition.message });
  });
});

function run(status: string | undefined, reason?: string, specStatus?: string, message = 'whatever the message says'): PipelineRunLike {
  return {
    spec: specStatus ? { status: specStatus } : {},
    status: status === undefined ? {} : { conditions: [{ type: 'Succeeded', status, reason, message }] },
  };
}

describe('mapPipelineRunStatus on every reason of DESIGN.md section 6', () => {
  it.each([
    [run(undefined), 'QUEUED'],
    [{}, 'QUEUED'],
    [run(undefined, undefined, 'PipelineRunPending'), 'QUEUED'],
    [run('Unknown', 'PipelineRunPending'), 'QUEUED'],
    [run('Unknown', 'Started'), 'RUNNING'],
    [run('Unknown', 'Running'), 'RUNNING'],
    [run('Unknown', 'ResolvingPipelineRef'), 'RUNNING'],
    [run('Unknown', 'SomethingNew'), 'RUNNING'],
    [run('Unknown', 'Running', 'Cancelled'), 'CANCELLING'],
    [run('Unknown', 'Running', 'CancelledRunFinally'), 'CANCELLING'],
    [run('Unknown', 'Running', 'StoppedRunFinally'), 'CANCELLING'],
    [run('Unknown', 'Cancelled'), 'CANCELLING'],
    [run('Unknown', 'CancelledRunningFinally'), 'CANCELLING'],
    [run('Unknown', 'StoppedRunningFinally'), 'CANCELLING'],
    [run('Unknown', 'PipelineRunStopping'), 'CANCELLING'],
    [run('True', 'Succeeded'), 'SUCCEEDED'],
    [run('True', 'Completed'), 'SUCCEEDED'],
    [run('False', 'Cancelled'), 'CANCELLED'],
    [run('False', 'PipelineRunCancelled'), 'CANCELLED'],
    [run('False', 'PipelineRunTimeout'), 'TIMED_OUT'],
    [run('False', 'Failed'), 'FAILED'],
    [run('False', 'PipelineValidationFailed'), 'FAILED'],
    [run('False', 'CouldntGetPipeline'), 'FAILED'],
    [run('False', 'CreateRunFailed'), 'FAILED'],
    [run('False', 'Failed', 'Cancelled'), 'FAILED'],
  ])('%j → %s', (pipelineRun, status) => {
    expect(mapPipelineRunStatus(pipelineRun).status).toBe(status);
  });

  it('reads the Succeeded condition only, and never the message', () => {
    const other = { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'Failed' }] } };
    expect(mapPipelineRunStatus(other).status).toBe('QUEUED');
    expect(mapPipelineRunStatus(run('True', 'Succeeded', undefined, 'PipelineRun "x" was cancelled')).status).toBe('SUCCEEDED');
    expect(mapPipelineRunStatus(run('False', 'Failed', undefined, 'Tasks Completed: 1 (Failed: 0, Canceled 1)')).status).toBe('FAILED');
  });
});
