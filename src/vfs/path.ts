import { Errno, GuestErrno } from '../platform/index.js';

/** Linux's PATH_MAX: the longest path a guest may pass, NUL included. */
export const DEFAULT_MAX_PATH = 4096;
const NAME_MAX = 255;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes guest path bytes; invalid UTF-8 and embedded NULs are refused, not repaired. */
export function decodePath(bytes: Uint8Array, maxLength = DEFAULT_MAX_PATH): string {
  if (bytes.length >= maxLength)
    throw new GuestErrno(Errno.ENAMETOOLONG, `path of ${bytes.length} bytes (limit ${maxLength - 1})`, {
      name: 'path-length',
      value: maxLength,
    });
  if (bytes.includes(0)) throw new GuestErrno(Errno.EINVAL, 'path contains a NUL byte');
  try {
    return utf8.decode(bytes);
  } catch {
    throw new GuestErrno(Errno.EINVAL, 'path is not valid UTF-8');
  }
}

/**
 * Splits a virtual path into components relative to the virtual root, resolving `.` and `..`
 * lexically; `..` at the root stays at the root, so no path can name anything above `/`.
 */
export function splitPath(path: string, cwd: readonly string[] = [], maxLength = DEFAULT_MAX_PATH): string[] {
  if (path.length === 0) throw new GuestErrno(Errno.ENOENT, 'empty path');
  if (path.includes('\0')) throw new GuestErrno(Errno.EINVAL, 'path contains a NUL byte');
  if (Buffer.byteLength(path) >= maxLength)
    throw new GuestErrno(Errno.ENAMETOOLONG, `path longer than ${maxLength - 1} bytes`, {
      name: 'path-length',
      value: maxLength,
    });
  const out = path.startsWith('/') ? [] : [...cwd];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      out.pop();
      continue;
    }
    if (Buffer.byteLength(part) > NAME_MAX)
      throw new GuestErrno(Errno.ENAMETOOLONG, `path component longer than ${NAME_MAX} bytes`);
    out.push(part);
  }
  return out;
}

export function joinPath(parts: readonly string[]): string {
  return '/' + parts.join('/');
}

/** True when `parts` starts with all of `prefix`. */
export function hasPrefix(parts: readonly string[], prefix: readonly string[]): boolean {
  if (prefix.length > parts.length) return false;
  for (let k = 0; k < prefix.length; k++) if (parts[k] !== prefix[k]) return false;
  return true;
}
