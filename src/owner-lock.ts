import { readFileSync, rmSync, writeFileSync } from 'node:fs';

/**
 * Claims `lockFile` for this process, so that two processes never run one piece of local state
 * (a second `npm start` on the same DATA_DIR, say) and the second is refused before it touches
 * anything. The file holds the owner's pid; a lock left by a process that is gone (kill -9), or
 * by this very pid in an earlier life of a container, is taken over. Returns the release.
 */
export function claimOwnerLock(lockFile: string, what: string): () => void {
  for (;;) {
    try {
      writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
      return () => {
        // Only the owner removes it: a release after another process took it over is a no-op.
        if (readOwner(lockFile) === process.pid) rmSync(lockFile, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(lockFile);
    if (owner !== null && owner !== process.pid && isRunning(owner)) {
      throw new Error(`${what} is in use by process ${owner}: stop it, or give this one another data directory (DATA_DIR)`);
    }
    rmSync(lockFile, { force: true });
  }
}

function readOwner(lockFile: string): number | null {
  try {
    const pid = Number(readFileSync(lockFile, 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
