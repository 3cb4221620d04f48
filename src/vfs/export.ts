import fs from 'node:fs';
import path from 'node:path';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../platform/index.js';
import type { WalkedTree } from './types.js';

export interface ExportOptions {
  /** Replace regular files already in the target (default false: any existing file is a conflict). */
  overwrite?: boolean;
  /** Most bytes written in all (default 1 GiB); a larger tree is refused before anything is written. */
  maxBytes?: number;
  /** Most files and directories written (default 100 000). */
  maxEntries?: number;
}

export interface ExportReport {
  /** Virtual paths of the regular files written. */
  files: string[];
  bytes: number;
  /** What was left out, and why: symlinks (never followed, never made), special files, odd names. */
  skipped: { path: string; reason: string }[];
}

/** An export that was refused as a whole: nothing was written. */
export class ExportError extends Error {
  override name = 'ExportError';
}

interface Plan {
  dirs: string[];
  files: { vpath: string; rel: string; size: number }[];
  skipped: ExportReport['skipped'];
  bytes: number;
}

/**
 * Copies the regular files and directories under a virtual directory (what a guest left in /tmp,
 * say) to a host directory, made if missing. The tree is the guest's and hostile: symlinks are
 * reported and left out (none is followed or made on the host), so are special files and names
 * that could leave the target; files are written 0644 and directories 0755 whatever the guest
 * asked for. The whole tree is checked first (sizes, and names already taken in the target, which
 * are refused unless `overwrite`, and a symlink on the host is refused always): a refused export
 * writes nothing.
 */
export function exportTree(vfs: WalkedTree, vpath: string, hostDir: string, opts: ExportOptions = {}): ExportReport {
  const plan = planExport(vfs, vpath, opts);
  const target = path.resolve(hostDir);
  checkTarget(target, plan, opts.overwrite === true);
  fs.mkdirSync(target, { recursive: true });
  for (const rel of plan.dirs) makeDir(path.join(target, rel));
  for (const f of plan.files) writeFile(path.join(target, f.rel), vfs.readFile(f.vpath), opts.overwrite === true);
  return { files: plan.files.map((f) => f.vpath), bytes: plan.bytes, skipped: plan.skipped };
}

function planExport(vfs: WalkedTree, vpath: string, opts: ExportOptions): Plan {
  const maxBytes = opts.maxBytes ?? 1 << 30;
  const maxEntries = opts.maxEntries ?? 100_000;
  const root = vfs.resolve(vpath, [], false);
  if (!root.node) throw new ExportError(`${vpath} does not exist`);
  if ((root.node.stat.mode & S_IFMT) !== S_IFDIR)
    throw new ExportError(
      `${vpath} is not a directory${(root.node.stat.mode & S_IFMT) === S_IFLNK ? ' (a symlink, not followed)' : ''}`,
    );
  const plan: Plan = { dirs: [], files: [], skipped: [], bytes: 0 };
  const walk = (dirV: string, dirRel: string) => {
    const dir = vfs.resolve(dirV, [], false);
    for (const e of dir.mount.list(dir.rel)) {
      const v = `${dirV === '/' ? '' : dirV}/${e.name}`;
      if (!safeName(e.name)) {
        plan.skipped.push({ path: v, reason: 'a name that cannot be written safely' });
        continue;
      }
      const rel = dirRel ? `${dirRel}/${e.name}` : e.name;
      const node = vfs.resolve(v, [], false).node;
      const type = node ? node.stat.mode & S_IFMT : 0;
      if (plan.dirs.length + plan.files.length >= maxEntries)
        throw new ExportError(`more than ${maxEntries} files and directories under ${vpath}`);
      if (type === S_IFDIR) {
        plan.dirs.push(rel);
        walk(v, rel);
      } else if (type === S_IFREG) {
        plan.bytes += node!.stat.size;
        if (plan.bytes > maxBytes) throw new ExportError(`more than ${maxBytes} bytes under ${vpath}`);
        plan.files.push({ vpath: v, rel, size: node!.stat.size });
      } else if (type === S_IFLNK) {
        plan.skipped.push({ path: v, reason: `symlink to ${JSON.stringify(node!.linkTarget ?? '')}, not followed` });
      } else plan.skipped.push({ path: v, reason: node ? 'special file' : 'gone' });
    }
  };
  walk(root.vpath, '');
  return plan;
}

/** One path component that stays one component on the host. */
function safeName(name: string): boolean {
  return name !== '' && name !== '.' && name !== '..' && !name.includes('/') && !name.includes('\0');
}

/** Every name the export would write, against what the target already holds. */
function checkTarget(target: string, plan: Plan, overwrite: boolean): void {
  const existing = lstat(target);
  if (existing && !existing.isDirectory())
    throw new ExportError(`${target} exists and is not a directory${existing.isSymbolicLink() ? ' (a symlink)' : ''}`);
  if (!existing) return;
  const conflicts: string[] = [];
  for (const rel of plan.dirs) {
    const st = lstat(path.join(target, rel));
    if (st && !st.isDirectory())
      conflicts.push(
        `${path.join(target, rel)} exists and is not a directory${st.isSymbolicLink() ? ' (a symlink)' : ''}`,
      );
  }
  for (const f of plan.files) {
    const st = lstat(path.join(target, f.rel));
    if (!st) continue;
    if (st.isSymbolicLink()) conflicts.push(`${path.join(target, f.rel)} is a symlink (never written through)`);
    else if (!st.isFile()) conflicts.push(`${path.join(target, f.rel)} exists and is not a regular file`);
    else if (!overwrite) conflicts.push(`${path.join(target, f.rel)} exists (overwrite not allowed)`);
  }
  if (conflicts.length)
    throw new ExportError(
      `export to ${target} refused, nothing written: ${conflicts.slice(0, 5).join('; ')}${conflicts.length > 5 ? `; and ${conflicts.length - 5} more` : ''}`,
    );
}

function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}

function makeDir(p: string): void {
  try {
    fs.mkdirSync(p, 0o755);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || !lstat(p)?.isDirectory()) throw err;
  }
}

/** Never through a symlink (O_NOFOLLOW), and never onto an existing file unless asked. */
function writeFile(p: string, data: Buffer, overwrite: boolean): void {
  const { O_WRONLY, O_CREAT, O_EXCL, O_TRUNC, O_NOFOLLOW } = fs.constants;
  const fd = fs.openSync(p, O_WRONLY | O_CREAT | O_NOFOLLOW | (overwrite ? O_TRUNC : O_EXCL), 0o644);
  try {
    fs.writeFileSync(fd, data);
  } finally {
    fs.closeSync(fd);
  }
}
