/**
 * An exclusive lock on a data folder, so two Darkroom processes never open the same embedded
 * database: PGlite does not lock its folder, and a second writer silently loses data.
 *
 * The lock is an OS advisory lock (`flock`, via Deno.FsFile.tryLock) on `<dir>/darkroom.lock`:
 * - tryLock never blocks, so "already held" is an immediate answer, not a hang.
 * - The OS drops the lock when the process exits, however it exits (kill -9, crash, OOM), so a
 *   stale lock cannot outlive its owner and there is no PID-reuse guesswork. The PID written
 *   into the file only makes the refusal message useful.
 * - It is per open file, so a second acquire from the same process is refused too.
 * The file is never deleted: unlinking a lock file lets two processes lock two different files.
 * Advisory locks may not hold across machines on network filesystems (NFS, SMB).
 */
import { join } from "node:path";

/** Name of the lock file inside the locked folder. */
export const LOCK_FILE = "darkroom.lock";

/** A held data-folder lock. */
export interface DataLock {
  /** Releases the lock (idempotent). */
  release(): Promise<void>;
}

/** Takes the exclusive lock on `dir` (created if needed); throws if another process holds it. */
export async function acquireDataLock(dir: string): Promise<DataLock> {
  await Deno.mkdir(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  // No truncate on open: the file may belong to a running holder whose PID we want to report.
  const file = await Deno.open(path, { read: true, write: true, create: true });
  let locked: boolean;
  try {
    locked = await file.tryLock(true);
  } catch (err) {
    file.close();
    throw new Error(`Cannot lock ${dir}: ${(err as Error).message}`);
  }
  if (!locked) {
    file.close();
    const pid = await readHolderPid(path);
    throw new Error(
      `Another Darkroom is already using ${dir} (pid ${pid ?? "unknown"}); ` +
        `stop it first or set DATA_DIR to another folder`,
    );
  }
  try {
    await file.truncate(0);
    await writeAll(file, new TextEncoder().encode(`${Deno.pid}\n`));
  } catch (err) {
    file.close(); // closing drops the lock
    throw new Error(`Cannot write ${path}: ${(err as Error).message}`);
  }
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      try {
        await file.truncate(0); // no PID left behind to confuse a reader
        await file.unlock();
      } finally {
        file.close();
      }
    },
  };
}

async function readHolderPid(path: string): Promise<number | null> {
  try {
    const pid = Number((await Deno.readTextFile(path)).trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null; // e.g. Windows refuses reads of a locked file
  }
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  await file.seek(0, Deno.SeekMode.Start);
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}
