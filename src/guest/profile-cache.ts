/**
 * The on-disk cache of interpreter profiles (what a stock interpreter needs from the host), kept
 * in the user's cache directory so that a run from the command line does not ask the interpreter
 * and ldd again. A profile decides what the guest may read, so the cache may only save time: a
 * file is used only if it is the user's own (or root's), a regular file writable by no one else,
 * and well formed; anything else (missing, corrupt, foreign, a symlink) is ignored and the profile
 * computed as if there were no cache.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { StockProfile } from './stock-profile.js';
import { removeQuietly, trustedOwner } from '../platform/owned-files.js';

/** A profile is a few KiB; anything much larger is not one. */
const MAX_BYTES = 1 << 20;

/** The cached profile in `file` for the interpreter named `argv0`, if there is a sound one. */
export function readCachedProfile(file: string, argv0: string): StockProfile | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > MAX_BYTES || !trustedOwner(st.uid) || (st.mode & 0o022) !== 0) return undefined;
    const profile: unknown = JSON.parse(fs.readFileSync(fd, 'utf8'));
    return isProfile(profile) && profile.argv0 === path.resolve(argv0) && profile.binary === fs.realpathSync(argv0)
      ? profile
      : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Writes the profile through a new file renamed into place (readers never see half of one). */
export function writeCachedProfile(file: string, profile: StockProfile): void {
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    fs.writeFileSync(tmp, JSON.stringify(profile), { mode: 0o600, flag: 'wx' });
    fs.renameSync(tmp, file);
  } catch {
    removeQuietly(tmp); // a read-only home only costs the recomputation
  }
}

const absolute = (x: unknown): x is string => typeof x === 'string' && path.isAbsolute(x) && !x.includes('\0');

function isProfile(x: unknown): x is StockProfile {
  if (typeof x !== 'object' || x === null) return false;
  const p = x as Record<string, unknown>;
  const paths = (v: unknown) => Array.isArray(v) && v.every(absolute);
  const links =
    Array.isArray(p.symlinks) &&
    p.symlinks.every(
      (l) =>
        Array.isArray(l) &&
        l.length === 2 &&
        absolute(l[0]) &&
        typeof l[1] === 'string' &&
        l[1] !== '' &&
        !l[1].includes('\0'),
    );
  return (
    absolute(p.binary) &&
    absolute(p.argv0) &&
    (p.family === 'pypy' || p.family === 'cpython') &&
    paths(p.grants) &&
    links &&
    (p.missing === undefined || paths(p.missing))
  );
}
