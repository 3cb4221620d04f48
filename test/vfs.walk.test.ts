import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileTable } from '../src/kernel/files.js';
import { linuxX8664, Policy, VirtualFS } from '../src/index.js';
import type { Mount } from '../src/vfs/types.js';
import type { OverlayMount } from '../src/vfs/overlay-mount.js';
import { FIXTURES } from './helpers.js';

const F = linuxX8664.open;

/** A /tmp holding a chain of `depth` directories, the guest's cwd at its bottom. */
function deepTree(depth: number): { vfs: VirtualFS; files: FileTable; tmp: OverlayMount } {
  const vfs = new VirtualFS();
  const tmp = vfs.mountTmp('/tmp', { quotaBytes: 1 << 30 });
  const files = new FileTable(vfs, new Policy(), F, { maxOpenFiles: 16, maxOpenDirs: 4 }, '/tmp', () => undefined);
  for (let k = 0; k < depth; k++) {
    files.mkdir('d', 0o755);
    files.chdir('d');
  }
  return { vfs, files, tmp };
}

/** What resolving a path costs: calls into the mount, and directory entries memfs looked up. */
function countWork(tmp: OverlayMount, run: () => void): { mountCalls: number; childLookups: number } {
  let mountCalls = 0;
  let childLookups = 0;
  const restore: (() => void)[] = [];
  const wrap = <T extends object>(obj: T, name: keyof T, count: () => void) => {
    const original = obj[name] as unknown as (...a: unknown[]) => unknown;
    (obj as Record<keyof T, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      count();
      return original.apply(this, args);
    };
    restore.push(() => ((obj as Record<keyof T, unknown>)[name] = original));
  };
  wrap(tmp as Mount, 'lookup', () => mountCalls++);
  wrap(tmp as Mount, 'step', () => mountCalls++);
  // Each directory entry memfs looks up is one call of its links' getChild.
  const link = (tmp.upper.vol as unknown as { _core: { root: object } })._core.root;
  const proto = Object.getPrototypeOf(link) as { getChild: unknown };
  wrap(proto, 'getChild', () => childLookups++);
  try {
    run();
  } finally {
    for (const r of restore) r();
  }
  return { mountCalls, childLookups };
}

describe('walking a path', () => {
  it('costs work linear in its length: stat(".") at depth N', () => {
    const work = (depth: number) => {
      const { files, tmp } = deepTree(depth);
      return countWork(tmp, () => files.stat('.', true));
    };
    const small = work(100);
    const large = work(400);
    // One mount call per component below /tmp (and the mount point itself).
    expect(small.mountCalls).toBe(101);
    expect(large.mountCalls).toBe(401);
    // memfs looks each directory up a small, fixed number of times (the walk, the policy's host
    // check), not once per prefix: that would be N^2/2, 80,000 at depth 400.
    expect(large.childLookups).toBeLessThanOrEqual(4 * 400);
    expect(large.childLookups / small.childLookups).toBeLessThan(4.5);
  });

  it('mkdir and chdir one level deeper cost work linear in the depth', () => {
    const work = (depth: number) => {
      const { files, tmp } = deepTree(depth);
      return countWork(tmp, () => {
        files.mkdir('d', 0o755);
        files.chdir('d');
      });
    };
    const small = work(100);
    const large = work(400);
    expect(large.mountCalls).toBeLessThanOrEqual(4 * 400);
    expect(large.childLookups).toBeLessThanOrEqual(12 * 400);
    expect(large.childLookups / small.childLookups).toBeLessThan(4.5);
  });

  it('gives the same answers deep down as a walk from the root', () => {
    const { vfs, files } = deepTree(300);
    const cwd = files.getcwd();
    expect(cwd.split('/').length).toBe(302);
    expect(files.stat('.', true)).toEqual(files.stat(cwd, true));
    expect(vfs.resolve('.', vfs.split(cwd), true).rel).toEqual(vfs.split(cwd).slice(1));
    files.mkdir('x', 0o700);
    expect(files.stat(`${cwd}/x`, true)).toEqual(files.stat('x', true));
  });
});

describe('a step of a walk answers as a lookup of the whole path does', () => {
  const PROJECT = path.join(FIXTURES, 'project');

  /** Every prefix of every path, resolved by the walker, against the mount's own lookup of it. */
  const agree = (vfs: VirtualFS, paths: string[]) => {
    for (const p of paths) {
      const parts = vfs.split(p);
      for (let k = 1; k <= parts.length; k++) {
        let r;
        try {
          r = vfs.resolve('/' + parts.slice(0, k).join('/'), [], false);
        } catch {
          continue; // the walk refused an earlier component: the mount is never asked
        }
        const direct = r.mount.lookup(r.rel);
        expect(r.node?.stat ?? null, `${p} (${k})`).toEqual(direct?.stat ?? (r.node?.synthetic ? r.node.stat : null));
        expect(r.node?.linkTarget, `${p} (${k})`).toEqual(direct?.linkTarget ?? r.node?.linkTarget);
      }
    }
  };

  it('in a writable /tmp over a host directory, with whiteouts and opaque directories', () => {
    const vfs = new VirtualFS();
    const tmp = vfs.mountTmp('/tmp', { lowerDir: PROJECT, lowerFilter: { exclude: ['**/secret.key'] } });
    const files = new FileTable(
      vfs,
      new Policy().allowRead(PROJECT),
      F,
      { maxOpenFiles: 16, maxOpenDirs: 4 },
      '/tmp',
      () => undefined,
    );
    files.unlink('/tmp/src/pkg/util.py'); // a whiteout below a lower directory
    files.unlink('/tmp/docs/deep/er/note.txt');
    files.rmdir('/tmp/docs/deep/er');
    files.rmdir('/tmp/docs/deep');
    files.mkdir('/tmp/docs/deep', 0o755); // an opaque directory over the lower one
    files.mkdir('/tmp/src/pkg/new', 0o755); // an upper directory inside a lower one
    files.close(files.open('/tmp/src/pkg/new/f', F.O_WRONLY | F.O_CREAT, 0o644));
    // A directory nobody may search (made so by the host: the guest cannot chmod) hides its entries.
    files.mkdir('/tmp/locked', 0o755);
    files.close(files.open('/tmp/locked/f', F.O_WRONLY | F.O_CREAT, 0o644));
    tmp.upper.vol.chmodSync('/upper/locked', 0o600);
    expect(vfs.resolve('/tmp/locked/f', [], false).node).toBeNull();
    agree(vfs, [
      '/tmp/locked/f',
      '/tmp/src/pkg/util.py',
      '/tmp/src/pkg/__init__.py',
      '/tmp/src/pkg/new/f',
      '/tmp/docs/deep/er/note.txt',
      '/tmp/docs/link-readme',
      '/tmp/secret.key',
      '/tmp/.config/config',
      '/tmp/data/numbers.csv',
      '/tmp/missing/x',
    ]);
  });

  it("in host mounts with filters and in the controller's own tree", () => {
    const vfs = new VirtualFS({ time: 1_700_000_000_000 });
    vfs.mountHost('/srv/project', PROJECT, { exclude: ['**/cache/**', 'data'], dotfiles: false });
    vfs.mountHost('/srv/dotted', PROJECT, { dotfiles: true, include: ['**/*.py'] });
    vfs.addFile('/etc/motd', 'hello\n');
    vfs.addSymlink('/etc/link', '/etc/motd');
    vfs.mountDevices('/dev');
    agree(vfs, [
      '/srv/project/src/pkg/util.py',
      '/srv/project/cache/module.pyc',
      '/srv/project/data/numbers.csv',
      '/srv/project/.config/config',
      '/srv/dotted/.config/config',
      '/srv/dotted/src/main.py',
      '/srv/dotted/README.txt',
      '/etc/motd',
      '/etc/link',
      '/dev/null',
      '/dev/null/x',
      '/srv/project/docs/deep/er',
    ]);
  });
});
