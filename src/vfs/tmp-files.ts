import { INODE_COST } from './quota.js';
import type { OverlayMount } from './overlay-mount.js';

/**
 * The components of a name given for a writable tree (`data.csv`, `in/2024.csv`): relative, and
 * free of `.`, `..`, empty components and NUL, so it can only name a place inside that tree.
 */
export function tmpFileParts(name: string): string[] {
  const parts = name.split('/');
  if (
    name === '' ||
    name.startsWith('/') ||
    name.includes('\0') ||
    parts.some((p) => p === '' || p === '.' || p === '..')
  ) {
    throw new Error(
      `${JSON.stringify(name)}: expected a relative name inside the tree (no leading /, no . or .. components)`,
    );
  }
  return parts;
}

/**
 * Puts input files into a writable tree before the guest starts: they are the guest's to read,
 * change or delete like files it wrote itself, and count against the tree's quota the same way
 * (bytes, and a name's cost for each file and directory).
 */
export function seedTree(mount: OverlayMount, files: Record<string, Buffer | string>): void {
  for (const [name, data] of Object.entries(files)) {
    const parts = tmpFileParts(name);
    for (let k = 1; k < parts.length; k++) {
      const dir = parts.slice(0, k);
      const node = mount.upper.lookup(dir);
      if (node === null) mount.upper.mkdir(dir, 0o755);
    }
    if (mount.upper.lookup(parts) !== null)
      throw new Error(`${JSON.stringify(name)}: given twice (or also as a directory)`);
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data);
    mount.quota.charge(bytes.length + INODE_COST, `input file ${name}`);
    mount.upper.put(parts, bytes, 0o644);
  }
}
