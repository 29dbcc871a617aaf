import { describe, expect, it } from 'vitest';
import { buildPipelineRun, PIPELINE_PARAMS, targetNamespaceFor } from '../src/k8s/pipeline-run.js';

const input = {
  deploymentId: 'dep-abcdefghijklmnopqrstuvwxyz',
  organizationId: 'org_abc234',
  serviceId: 'svc_xyz567',
  serviceSlug: 'web',
  repoUrl: 'git@github.com:acme/web.git',
  branch: 'feature/$(rm -rf)"quote',
  clearCache: true,
  pipelineName: 'stackblaze-build',
  namespace: 'stackblaze-builds',
  imageRegistry: 'registry.example.com',
};

const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describe('buildPipelineRun', () => {
  const run = buildPipelineRun(input);

  it('is named exactly the deployment ID, in the build namespace, referencing the service pipeline', () => {
    expect(run.apiVersion).toBe('tekton.dev/v1');
    expect(run.metadata.name).toBe(input.deploymentId);
    expect(run.metadata.namespace).toBe('stackblaze-builds');
    expect(run.spec.pipelineRef).toEqual({ name: 'stackblaze-build' });
  });

  it('labels the service, the deployment and the managing app with valid label values', () => {
    expect(run.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'stackblaze-control-plane',
      'stackblaze.dev/deployment': input.deploymentId,
      'stackblaze.dev/service': 'svc_xyz567',
      'stackblaze.dev/organization': 'org_abc234',
    });
    for (const value of Object.values(run.metadata.labels)) expect(value).toMatch(LABEL_VALUE);
  });

  it('passes every declared param, user input only as values', () => {
    const params = Object.fromEntries((run.spec.params as Array<{ name: string; value: string }>).map((p) => [p.name, p.value]));
    expect(Object.keys(params).sort()).toEqual([...PIPELINE_PARAMS].sort());
    expect(params).toMatchObject({
      'repo-url': input.repoUrl,
      revision: input.branch,
      'clear-cache': 'true',
      'service-name': 'web',
      'target-namespace': 'sb-org-abc234',
      'deployment-id': input.deploymentId,
      image: `registry.example.com/sb-org-abc234/web:${input.deploymentId}`,
    });
    for (const value of Object.values(params)) expect(typeof value).toBe('string');
  });

  it('runs the build as the configured ServiceAccount, or leaves it to Tekton', () => {
    expect(run.spec.taskRunTemplate).toBeUndefined();
    expect(buildPipelineRun({ ...input, serviceAccount: 'stackblaze-build' }).spec.taskRunTemplate).toEqual({ serviceAccountName: 'stackblaze-build' });
  });

  it('makes DNS-label namespaces from organization IDs', () => {
    expect(targetNamespaceFor('org_ABC_def')).toBe('sb-org-abc-def');
    expect(targetNamespaceFor('org_' + 'x'.repeat(80))).toHaveLength(63);
  });
});
