import { createHash } from 'node:crypto';
import type { KubeObject } from './kube-object.js';

/** What the simulator should make of a run; chosen per PipelineRun so demos and tests can show failures. */
export type SimulatedOutcome = 'succeeded' | 'failed' | 'timeout' | 'validation-failed';

export const outcomeAnnotation = 'stackblaze.dev/simulate-outcome';

const outcomes: readonly SimulatedOutcome[] = ['succeeded', 'failed', 'timeout', 'validation-failed'];

/** Branches that pick an outcome, so a plain hook call (`?branch=simulate/fail`) can show one end to end. */
const outcomeBranches: Record<string, SimulatedOutcome> = {
  'simulate/fail': 'failed',
  'simulate/timeout': 'timeout',
  'simulate/validation-failed': 'validation-failed',
};

export interface SimulatedTask {
  name: string;
  steps: { name: string; image: string }[];
}

/** The pipeline every simulated run executes, in order. */
export const simulatedTasks: readonly SimulatedTask[] = [
  { name: 'clone', steps: [{ name: 'clone', image: 'cgr.dev/chainguard/git:latest' }] },
  {
    name: 'build',
    steps: [
      { name: 'build', image: 'gcr.io/kaniko-project/executor:v1.23.2' },
      { name: 'push', image: 'gcr.io/go-containerregistry/crane:v0.20.2' },
    ],
  },
  { name: 'deploy', steps: [{ name: 'deploy', image: 'bitnami/kubectl:1.32' }] },
];

/** The task that fails (or never finishes) when the outcome says so: the image build. */
export const failingTaskIndex = 1;

export type ChosenOutcome = { outcome: SimulatedOutcome } | { invalid: string };

export function chooseOutcome(pipelineRun: KubeObject): ChosenOutcome {
  const annotated = pipelineRun.metadata.annotations?.[outcomeAnnotation];
  if (annotated !== undefined) {
    return (outcomes as readonly string[]).includes(annotated)
      ? { outcome: annotated as SimulatedOutcome }
      : { invalid: `annotation ${outcomeAnnotation} is "${annotated}"; expected one of ${outcomes.join(', ')}` };
  }
  const branch = revisionOf(pipelineRun).replace(/^refs\/heads\//, '');
  return { outcome: outcomeBranches[branch] ?? 'succeeded' };
}

export function paramValue(pipelineRun: KubeObject, name: string): string | undefined {
  const params = pipelineRun.spec?.params;
  if (!Array.isArray(params)) return undefined;
  const param = params.find((p: { name?: unknown }) => p?.name === name) as { value?: unknown } | undefined;
  return typeof param?.value === 'string' ? param.value : undefined;
}

function revisionOf(pipelineRun: KubeObject): string {
  return paramValue(pipelineRun, 'revision') ?? 'main';
}

/** How much of a step's log exists, from its container's state. */
export type LogExtent = 'complete' | 'partial' | 'failed' | 'skipped';

/**
 * A few believable lines per step, derived from the run (repository, revision, a commit hash
 * from the run's uid), so logs are the same every time they are read and need no storage.
 */
export function stepLog(pipelineRun: KubeObject | undefined, step: string, extent: LogExtent): string {
  if (extent === 'skipped') return 'Skipping step because a previous step failed\n';
  const name = pipelineRun?.metadata.name ?? 'unknown';
  const namespace = pipelineRun?.metadata.namespace ?? 'default';
  const repo = (pipelineRun && paramValue(pipelineRun, 'repo-url')) ?? `https://git.example.com/${namespace}/app.git`;
  const revision = pipelineRun ? revisionOf(pipelineRun) : 'main';
  const commit = createHash('sha1').update(pipelineRun?.metadata.uid ?? name).digest('hex');
  const image = (pipelineRun && paramValue(pipelineRun, 'image')) ?? `registry.local/${namespace}/app`;
  const app = (pipelineRun && paramValue(pipelineRun, 'service-name')) ?? image.split('/').pop()?.split(':')[0] ?? 'app';
  // The image param carries its tag (the deployment ID); only the stand-in's default lacks one.
  const imageRef = /:[^/]+$/.test(image) ? image : `${image}:${commit.slice(0, 12)}`;
  const digest = (seed: string) => createHash('sha256').update(commit + seed).digest('hex');

  const lines: Record<string, { ok: string[]; failure?: string[] }> = {
    clone: {
      ok: [
        `+ git init /workspace/source`,
        `Initialized empty Git repository in /workspace/source/.git/`,
        `+ git fetch --depth=1 origin ${revision}`,
        `From ${repo}`,
        ` * branch            ${revision} -> FETCH_HEAD`,
        `+ git checkout FETCH_HEAD`,
        `HEAD is now at ${commit.slice(0, 7)} Merge pull request #42 from ${revision}`,
        `Successfully cloned ${repo} @ ${commit} (${revision}) in path /workspace/source`,
      ],
    },
    build: {
      ok: [
        `INFO[0000] Retrieving image manifest node:20-alpine`,
        `INFO[0001] Built cross stage deps: map[]`,
        `INFO[0001] Executing 0 build triggers`,
        `INFO[0002] RUN npm ci`,
        `added 412 packages, and audited 413 packages in 9s`,
        `INFO[0012] RUN npm run build`,
        `> build`,
        `> tsc -p tsconfig.build.json`,
        `INFO[0019] Taking snapshot of full filesystem...`,
        `INFO[0021] Image built: ${imageRef}`,
      ],
      failure: [
        `INFO[0000] Retrieving image manifest node:20-alpine`,
        `INFO[0001] Built cross stage deps: map[]`,
        `INFO[0002] RUN npm ci`,
        `added 412 packages, and audited 413 packages in 9s`,
        `INFO[0012] RUN npm run build`,
        `> build`,
        `> tsc -p tsconfig.build.json`,
        `src/server.ts(48,11): error TS2339: Property 'port' does not exist on type 'Config'.`,
        `error building image: error building stage: failed to execute command: waiting for process to exit: exit status 2`,
      ],
    },
    push: {
      ok: [
        `Pushing ${imageRef}`,
        `existing blob: sha256:${digest('base')}`,
        `pushed blob: sha256:${digest('layer')}`,
        `${image}@sha256:${digest('manifest')}`,
      ],
    },
    deploy: {
      ok: [
        `deployment.apps/${app} image updated`,
        `Waiting for deployment "${app}" rollout to finish: 1 out of 2 new replicas have been updated...`,
        `Waiting for deployment "${app}" rollout to finish: 1 old replicas are pending termination...`,
        `deployment "${app}" successfully rolled out`,
      ],
    },
  };
  const script = lines[step] ?? { ok: [`step ${step} of ${name} ran`] };
  const chosen = extent === 'failed' ? (script.failure ?? [...script.ok, 'exit status 1']) : script.ok;
  const shown = extent === 'partial' ? chosen.slice(0, Math.ceil(chosen.length / 2)) : chosen;
  return `${shown.join('\n')}\n`;
}
