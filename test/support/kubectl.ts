import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Fails with a clear message where kubectl is missing or too old for `--subresource` (1.24+). */
export async function requireKubectl(): Promise<void> {
  let version: string;
  try {
    version = (await run('kubectl', ['version', '--client', '-o', 'json'])).stdout;
  } catch {
    throw new Error('kubectl 1.32 is required for these tests (it is the outside client of the local cluster); install it and put it on PATH');
  }
  const minor = Number(JSON.parse(version).clientVersion?.minor?.replace(/\D/g, ''));
  if (!(minor >= 24)) throw new Error(`kubectl 1.24 or newer is required (for --subresource); found ${version}`);
}

/** Runs kubectl against a kubeconfig; resolves with stdout, rejects with stderr. */
export async function kubectl(kubeconfig: string, ...args: string[]): Promise<string> {
  try {
    return (await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 20_000 })).stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`kubectl ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}
