import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { FileTable } from '../src/kernel/files.js';
import { Errno, linuxX8664, Policy, VirtualFS, type Decision } from '../src/index.js';
import { errnoOf, FIXTURES } from './helpers.js';

const PROJECT = path.join(FIXTURES, 'project');
const F = linuxX8664.open;

function readAll(files: FileTable, p: string): string {
  const fd = files.open(p, F.O_RDONLY, 0);
  const chunks: Buffer[] = [];
  for (;;) {
    const b = files.read(fd, 4096);
    if (b.length === 0) break;
    chunks.push(b);
  }
  files.close(fd);
  return Buffer.concat(chunks).toString();
}

function list(files: FileTable, p: string): string[] {
  const key = 1n;
  files.opendir(p, key);
  const names: string[] = [];
  for (let e = files.readdir(key); e; e = files.readdir(key)) names.push(e.entry.name);
  files.closedir(key);
  return names.filter((n) => n !== '.' && n !== '..').sort();
}

describe('a host directory mounted read-only with filters', () => {
  let files: FileTable;
  let decisions: Decision[];

  beforeEach(() => {
    const vfs = new VirtualFS();
    vfs.mountHost('/project', PROJECT, { exclude: ['**/*.key', '**/*.pyc'] });
    vfs.mountHost('/ungranted', path.join(FIXTURES, 'other'));
    vfs.mountTmp('/tmp');
    const policy = new Policy()
      .allowRead(PROJECT)
      .deny('/project/docs/deep/**', ['read', 'list'], 'deep docs are off limits');
    decisions = [];
    files = new FileTable(vfs, policy, F, { maxOpenFiles: 16, maxOpenDirs: 4 }, '/tmp', (d) => decisions.push(d));
  });

  it('reads files, also through nested directories and a symlink that stays inside', () => {
    expect(readAll(files, '/project/README.txt')).toBe('pypy-box fixture project\n');
    expect(readAll(files, '/project/src/pkg/util.py')).toContain('return 42');
    expect(readAll(files, '/project/link-inside')).toContain('import pkg.util');
    expect(readAll(files, '/project/docs/link-readme')).toBe('pypy-box fixture project\n');
    expect(decisions.at(-1)).toMatchObject({ allow: true, op: 'read' });
    expect(decisions.at(-1)!.reason).toContain('read grant');
  });

  it('reads the large file completely and at any offset', () => {
    const fd = files.open('/project/data/large.bin', F.O_RDONLY, 0);
    const host = fs.readFileSync(path.join(PROJECT, 'data/large.bin'));
    let total = 0;
    for (;;) {
      const b = files.read(fd, 1 << 20);
      if (!b.length) break;
      expect(b.equals(host.subarray(total, total + b.length))).toBe(true);
      total += b.length;
    }
    expect(total).toBe(3 * 1024 * 1024);
    expect(files.lseek(fd, 1_000_000, 0)).toBe(1_000_000);
    expect(files.read(fd, 10)).toEqual(host.subarray(1_000_000, 1_000_010));
    expect(files.read(fd, 5, 3 * 1024 * 1024 - 2)).toEqual(host.subarray(-2));
    files.close(fd);
  });

  it('lists only what the filters let through: no dotfiles, no excluded extensions', () => {
    expect(list(files, '/project')).toEqual([
      'README.txt',
      'cache',
      'data',
      'docs',
      'link-inside',
      'link-outside',
      'link-up',
      'src',
    ]);
    expect(list(files, '/project/cache')).toEqual([]);
    expect(list(files, '/project/src/pkg')).toEqual(['__init__.py', 'util.py']);
  });

  it('hides dotfiles and excluded files as if they did not exist (ENOENT)', () => {
    for (const p of ['/project/.env', '/project/.config/config', '/project/secret.key', '/project/cache/module.pyc']) {
      expect(errnoOf(() => files.stat(p, true))).toBe(Errno.ENOENT);
      expect(errnoOf(() => files.open(p, F.O_RDONLY, 0))).toBe(Errno.ENOENT);
    }
  });

  it('never follows a symlink out of the mount (EACCES), yet can stat the link itself', () => {
    expect(errnoOf(() => files.open('/project/link-outside/passwd', F.O_RDONLY, 0))).toBe(Errno.EACCES);
    expect(errnoOf(() => files.stat('/project/link-outside', true))).toBe(Errno.EACCES);
    expect(errnoOf(() => readAll(files, '/project/link-up'))).toBe(Errno.EACCES);
    expect(files.stat('/project/link-outside', false).mode & 0o170000).toBe(0o120000);
    expect(errnoOf(() => files.readlink('/project/link-outside'))).toBe(Errno.EACCES);
    expect(files.readlink('/project/link-inside')).toBe('src/main.py');
  });

  it('clamps .. at the virtual root', () => {
    expect(readAll(files, '/../../../project/README.txt')).toContain('fixture');
    expect(readAll(files, '/project/src/../../../project/./README.txt')).toContain('fixture');
    files.chdir('/project/src');
    expect(readAll(files, '../../../../README.txt'.replace('README.txt', 'project/README.txt'))).toContain('fixture');
    expect(errnoOf(() => files.stat('/project/../../etc/passwd', true))).toBe(Errno.EACCES); // clamped to /etc: outside the tree
    expect(errnoOf(() => files.stat('/project/src/../nothing', true))).toBe(Errno.ENOENT); // missing inside a mount
  });

  it('denies what no grant covers with EACCES and a reason, stat included', () => {
    expect(errnoOf(() => files.stat('/ungranted', true))).toBe(Errno.EACCES);
    expect(errnoOf(() => list(files, '/ungranted'))).toBe(Errno.EACCES);
    expect(errnoOf(() => files.open('/ungranted/notes.txt', F.O_RDONLY, 0))).toBe(Errno.EACCES);
    const d = decisions.at(-1)!;
    expect(d).toMatchObject({ allow: false, op: 'read', vpath: '/ungranted/notes.txt', errno: Errno.EACCES });
    expect(d.reason).toMatch(/no read grant covers host .*notes\.txt/);
  });

  it('applies deny rules by virtual path', () => {
    expect(errnoOf(() => readAll(files, '/project/docs/deep/er/note.txt'))).toBe(Errno.EACCES);
    expect(decisions.at(-1)!.reason).toBe('deep docs are off limits');
    expect(errnoOf(() => list(files, '/project/docs/deep'))).toBe(Errno.EACCES);
    expect(files.stat('/project/docs/deep/er/note.txt', true).size).toBe(10);
  });

  it('refuses every write to the host mount with EROFS and never touches the host', () => {
    const before = fs.readFileSync(path.join(PROJECT, 'README.txt'));
    expect(errnoOf(() => files.open('/project/README.txt', F.O_WRONLY, 0))).toBe(Errno.EROFS);
    expect(errnoOf(() => files.open('/project/new.txt', F.O_WRONLY | F.O_CREAT, 0o644))).toBe(Errno.EROFS);
    expect(errnoOf(() => files.unlink('/project/README.txt'))).toBe(Errno.EROFS);
    expect(errnoOf(() => files.mkdir('/project/newdir', 0o755))).toBe(Errno.EROFS);
    expect(errnoOf(() => files.rename('/project/README.txt', '/project/R.txt'))).toBe(Errno.EROFS);
    expect(fs.readFileSync(path.join(PROJECT, 'README.txt'))).toEqual(before);
    expect(fs.existsSync(path.join(PROJECT, 'new.txt'))).toBe(false);
  });

  it('rejects over-long paths and components with ENAMETOOLONG, NUL bytes with EINVAL', () => {
    expect(errnoOf(() => files.stat('/' + 'a/'.repeat(3000), true))).toBe(Errno.ENAMETOOLONG);
    expect(errnoOf(() => files.stat('/tmp/' + 'x'.repeat(256), true))).toBe(Errno.ENAMETOOLONG);
    expect(errnoOf(() => files.stat('/tmp/a\0b', true))).toBe(Errno.EINVAL);
  });

  it('reports directory and type errors as Linux does', () => {
    expect(errnoOf(() => files.open('/project/README.txt/x', F.O_RDONLY, 0))).toBe(Errno.ENOTDIR);
    expect(errnoOf(() => files.open('/project/README.txt', F.O_RDONLY | F.O_DIRECTORY, 0))).toBe(Errno.ENOTDIR);
    expect(errnoOf(() => files.opendir('/project/README.txt', 9n))).toBe(Errno.ENOTDIR);
    const fd = files.open('/project/src', F.O_RDONLY, 0);
    expect(errnoOf(() => files.read(fd, 10))).toBe(Errno.EISDIR);
    files.close(fd);
    expect(errnoOf(() => files.close(fd))).toBe(Errno.EBADF);
  });

  it('caps open descriptors (EMFILE) and directory streams', () => {
    const fds: number[] = [];
    for (let k = 0; k < 13; k++) fds.push(files.open('/project/README.txt', F.O_RDONLY, 0));
    expect(fds[0]).toBe(3);
    expect(errnoOf(() => files.open('/project/README.txt', F.O_RDONLY, 0))).toBe(Errno.EMFILE);
    fds.forEach((fd) => files.close(fd));
    for (let k = 0; k < 4; k++) files.opendir('/project', BigInt(100 + k));
    expect(errnoOf(() => files.opendir('/project', 200n))).toBe(Errno.EMFILE);
  });
});

describe('listings of host directories', () => {
  it('are made again when the directory changed, even by the same run, and shared while it has not', () => {
    const dir = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'pypy-box-list-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.txt'), 'a');
      const names = () => {
        const vfs = new VirtualFS();
        vfs.mountHost('/h', dir);
        return vfs
          .resolve('/h', [], true)
          .mount.list([])
          .map((e) => e.name)
          .sort();
      };
      expect(names()).toEqual(['a.txt']);
      expect(names()).toEqual(['a.txt']); // the same listing, reused
      fs.writeFileSync(path.join(dir, 'b.txt'), 'b');
      expect(names()).toEqual(['a.txt', 'b.txt']);
      fs.renameSync(path.join(dir, 'a.txt'), path.join(dir, 'c.txt'));
      expect(names()).toEqual(['b.txt', 'c.txt']);
      fs.mkdirSync(path.join(dir, 'sub'));
      expect(names()).toEqual(['b.txt', 'c.txt', 'sub']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('through a filter are kept per filter, and made again when the directory changed', () => {
    const dir = fs.mkdtempSync(path.join(fs.realpathSync(os.tmpdir()), 'pypy-box-list-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.py'), 'a');
      fs.writeFileSync(path.join(dir, 'a.pyc'), 'a');
      fs.writeFileSync(path.join(dir, '.hidden'), 'h');
      const names = (filter: { exclude?: string[]; include?: string[]; dotfiles?: boolean }) => {
        const vfs = new VirtualFS();
        vfs.mountHost('/h', dir, filter);
        return vfs
          .resolve('/h', [], true)
          .mount.list([])
          .map((e) => e.name)
          .sort();
      };
      const noPyc = { exclude: ['**/*.pyc'] };
      expect(names(noPyc)).toEqual(['a.py']);
      expect(names(noPyc)).toEqual(['a.py']); // the same listing, reused
      // The same directory through other filters: never the listing made through the first.
      expect(names({})).toEqual(['a.py', 'a.pyc']);
      expect(names({ dotfiles: true, exclude: ['**/*.pyc'] })).toEqual(['.hidden', 'a.py']);
      expect(names({ include: ['**/*.pyc'] })).toEqual(['a.pyc']);
      fs.writeFileSync(path.join(dir, 'b.py'), 'b');
      fs.writeFileSync(path.join(dir, 'b.pyc'), 'b');
      expect(names(noPyc)).toEqual(['a.py', 'b.py']);
      fs.renameSync(path.join(dir, 'a.py'), path.join(dir, 'c.pyc'));
      expect(names(noPyc)).toEqual(['b.py']);
      expect(names({ include: ['**/*.pyc'] })).toEqual(['a.pyc', 'b.pyc', 'c.pyc']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
