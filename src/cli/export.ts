import path from 'node:path';
import { ExportError, exportTree } from '../vfs/export.js';
import type { VirtualFS } from '../vfs/vfs.js';

/** One `--export VPATH:HOSTDIR` (or `--export-tmp HOSTDIR`, which is `/tmp:HOSTDIR`). */
export interface ExportSpec {
  vpath: string;
  hostDir: string;
}

/** `--export VPATH:HOSTDIR`: VPATH absolute, split at the first colon (host directories may hold colons). */
export function exportSpec(spec: string): ExportSpec {
  const colon = spec.indexOf(':');
  const vpath = colon > 0 ? spec.slice(0, colon) : '';
  const hostDir = colon > 0 ? spec.slice(colon + 1) : '';
  if (!vpath.startsWith('/') || hostDir === '')
    throw new Error(`--export expects VPATH:HOSTDIR (e.g. /tmp/out:./out), got ${JSON.stringify(spec)}`);
  return { vpath, hostDir: path.resolve(hostDir) };
}

/**
 * After the run: each export copies what the guest left under a virtual directory to the host.
 * What was left out (symlinks, special files) is told, one line each. Returns false when an
 * export was refused or failed (its message told), true when all went through.
 */
export function runExports(
  vfs: VirtualFS,
  specs: readonly ExportSpec[],
  overwrite: boolean,
  say: (s: string) => void,
): boolean {
  let ok = true;
  for (const { vpath, hostDir } of specs) {
    try {
      const r = exportTree(vfs, vpath, hostDir, { overwrite });
      say(`exported ${r.files.length} file(s), ${r.bytes} bytes, from ${vpath} to ${hostDir}`);
      for (const s of r.skipped) say(`export: left out ${s.path}: ${s.reason}`);
    } catch (err) {
      ok = false;
      const why = err instanceof ExportError ? err.message : `${(err as Error).message}`;
      say(`export of ${vpath} to ${hostDir} failed: ${why}`);
    }
  }
  return ok;
}
