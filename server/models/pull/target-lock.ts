// A cross-process lock on a pull's target, so two processes never install into the same place.
import { open, readFile, rm } from 'node:fs/promises';
import { NodeError } from '../../engine/errors.js';

/**
 * One pull at a time per install target, across processes (CLI and server): a lock file beside
 * the staging area holding the owner's pid; a lock whose process is gone is taken over.
 */
export async function lockTarget(lockFile: string, what: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(lockFile, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rm(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number((await readFile(lockFile, 'utf8').catch(() => '')).trim());
      if (pid > 0 && pidAlive(pid))
        throw new NodeError('pull_in_progress', `another pull into ${what} is running (process ${pid}); wait for it or stop it`, { status: 409 });
      await rm(lockFile, { force: true });
    }
  }
  throw new NodeError('pull_in_progress', `could not lock ${lockFile}`);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
