import fs from 'node:fs';

/** Removes a file if it can; a directory it may not even look into is no error of the run's. */
export function removeQuietly(file: string): void {
  try {
    fs.rmSync(file, { force: true });
  } catch {
    // left for whoever may
  }
}

/** The user's own file, or root's (who could change anything of the user's anyway). */
export function trustedOwner(uid: number): boolean {
  return uid === process.getuid?.() || uid === 0;
}
