import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { FileTable } from '../src/kernel/files.js';
import { Errno, linuxX8664, Policy, VirtualFS } from '../src/index.js';
import { errnoOf, FIXTURES } from './helpers.js';

const PROJECT = path.join(FIXTURES, 'project');
const F = linuxX8664.open;
const CREATE = F.O_WRONLY | F.O_CREAT | F.O_TRUNC;

function hostTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      const st = fs.lstatSync(p);
      out.push(`${path.relative(dir, p)} ${st.size} ${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

function names(files: FileTable, p: string): string[] {
  files.opendir(p, 7n);
  const out: string[] = [];
  for (let e = files.readdir(7n); e; e = files.readdir(7n))
    if (e.entry.name !== '.' && e.entry.name !== '..') out.push(e.entry.name);
  files.closedir(7n);
  return out.sort();
}

describe('the writable in-memory /tmp', () => {
  let vfs: VirtualFS;
  let files: FileTable;
  const before = hostTree(PROJECT);

  beforeEach(() => {
    vfs = new VirtualFS();
    vfs.mountTmp('/tmp', { quotaBytes: 64 * 1024, lowerDir: PROJECT, lowerFilter: { exclude: ['**/*.key'] } });
    const policy = new Policy().allowRead(PROJECT);
    files = new FileTable(vfs, policy, F, { maxOpenFiles: 64, maxOpenDirs: 8 }, '/tmp', () => undefined);
  });

  it('creates, writes, appends, truncates, reads back, and the host reads it through the VFS', () => {
    const fd = files.open('/tmp/out.txt', CREATE, 0o644);
    expect(files.write(fd, Buffer.from('hello '))).toBe(6);
    files.close(fd);
    const app = files.open('/tmp/out.txt', F.O_WRONLY | F.O_APPEND, 0);
    files.write(app, Buffer.from('world'));
    files.close(app);
    expect(vfs.readFile('/tmp/out.txt').toString()).toBe('hello world');
    const rw = files.open('out.txt', F.O_RDWR, 0);
    files.ftruncate(rw, 5);
    expect(files.read(rw, 100).toString()).toBe('hello');
    files.close(rw);
    expect(vfs.snapshot('/tmp')['out.txt']?.toString()).toBe('hello');
  });

  it('shows the host directory underneath and copies a file up only when it is written', () => {
    expect(names(files, '/tmp')).toContain('README.txt');
    expect(names(files, '/tmp')).not.toContain('secret.key');
    const fd = files.open('/tmp/README.txt', F.O_WRONLY | F.O_APPEND, 0);
    files.write(fd, Buffer.from('changed inside\n'));
    files.close(fd);
    expect(vfs.readFile('/tmp/README.txt').toString()).toBe('pypy-box fixture project\nchanged inside\n');
    expect(fs.readFileSync(path.join(PROJECT, 'README.txt'), 'utf8')).toBe('pypy-box fixture project\n');
  });

  it('deletes and renames with whiteouts, never on the host', () => {
    files.unlink('/tmp/README.txt');
    expect(errnoOf(() => files.stat('/tmp/README.txt', true))).toBe(Errno.ENOENT);
    expect(names(files, '/tmp')).not.toContain('README.txt');
    files.rename('/tmp/data/numbers.csv', '/tmp/n.csv');
    expect(vfs.readFile('/tmp/n.csv').toString()).toContain('3,9');
    expect(errnoOf(() => files.stat('/tmp/data/numbers.csv', true))).toBe(Errno.ENOENT);
    expect(errnoOf(() => files.rename('/tmp/src', '/tmp/src2'))).toBe(Errno.EXDEV);
    const fd = files.open('/tmp/README.txt', CREATE, 0o644);
    files.write(fd, Buffer.from('new'));
    files.close(fd);
    expect(vfs.readFile('/tmp/README.txt').toString()).toBe('new');
    expect(hostTree(PROJECT)).toEqual(before);
  });

  it('renames as Linux does: never a directory into itself, never across types', () => {
    files.mkdir('/tmp/a', 0o755);
    files.mkdir('/tmp/a/b', 0o755);
    files.mkdir('/tmp/d', 0o755);
    files.mkdir('/tmp/d/e', 0o755);
    files.close(files.open('/tmp/f', CREATE, 0o644));
    expect(errnoOf(() => files.rename('/tmp/a', '/tmp/a/b/c'))).toBe(Errno.EINVAL);
    expect(errnoOf(() => files.rename('/tmp/a', '/tmp/f'))).toBe(Errno.ENOTDIR);
    expect(errnoOf(() => files.rename('/tmp/f', '/tmp/a'))).toBe(Errno.EISDIR);
    expect(errnoOf(() => files.rename('/tmp/a/b', '/tmp/d'))).toBe(Errno.ENOTEMPTY);
    expect(errnoOf(() => files.rename('/tmp/a', '/tmp/a'))).toBe(0);
    files.rename('/tmp/a/b', '/tmp/d/e');
    expect(names(files, '/tmp/d')).toEqual(['e']);
    expect(names(files, '/tmp/a')).toEqual([]);
  });

  it('makes and removes directories, refusing non-empty ones', () => {
    files.mkdir('/tmp/a', 0o755);
    files.mkdir('/tmp/a/b', 0o755);
    expect(errnoOf(() => files.mkdir('/tmp/a', 0o755))).toBe(Errno.EEXIST);
    expect(errnoOf(() => files.rmdir('/tmp/a'))).toBe(Errno.ENOTEMPTY);
    files.rmdir('/tmp/a/b');
    files.rmdir('/tmp/a');
    expect(errnoOf(() => files.rmdir('/tmp/docs'))).toBe(Errno.ENOTEMPTY);
    expect(errnoOf(() => files.open('/tmp/nodir/x', CREATE, 0o644))).toBe(Errno.ENOENT);
    expect(errnoOf(() => files.open('/tmp/out', F.O_WRONLY | F.O_CREAT | F.O_EXCL, 0o644))).toBe(0);
    expect(errnoOf(() => files.open('/tmp/out', F.O_WRONLY | F.O_CREAT | F.O_EXCL, 0o644))).toBe(Errno.EEXIST);
  });

  it('fails with ENOSPC past the quota, after writing what fits', () => {
    const fd = files.open('/tmp/big', CREATE, 0o644);
    const chunk = Buffer.alloc(16 * 1024, 1);
    let written = 0;
    let err = 0;
    for (let k = 0; k < 10 && !err; k++) {
      err = errnoOf(() => (written += files.write(fd, chunk)));
    }
    expect(err).toBe(Errno.ENOSPC);
    expect(written).toBeGreaterThan(60 * 1024);
    expect(written).toBeLessThanOrEqual(64 * 1024);
    // A sparse write far beyond the quota allocates nothing.
    expect(errnoOf(() => files.write(fd, Buffer.from('x'), 2 ** 40))).toBe(Errno.ENOSPC);
    expect(errnoOf(() => files.ftruncate(fd, 2 ** 40))).toBe(Errno.ENOSPC);
    files.close(fd);
    // Deleting gives the space back.
    files.unlink('/tmp/big');
    const fd2 = files.open('/tmp/again', CREATE, 0o644);
    expect(files.write(fd2, chunk)).toBe(chunk.length);
  });

  it('counts names against the quota, so a flood of empty files ends too', () => {
    let err = 0;
    let k = 0;
    for (; k < 10_000 && !err; k++) {
      err = errnoOf(() => files.close(files.open(`/tmp/f${k}`, CREATE, 0o644)));
    }
    expect(err).toBe(Errno.ENOSPC);
    expect(k).toBeLessThan(1000);
  });

  it('lets writes to /dev/null through and refuses them on the read-only virtual tree', () => {
    vfs.mountDevices('/dev');
    vfs.addFile('/etc/motd', 'hi\n');
    const fd = files.open('/dev/null', F.O_WRONLY, 0);
    expect(files.write(fd, Buffer.from('gone'))).toBe(4);
    expect(errnoOf(() => files.open('/etc/motd', F.O_WRONLY, 0))).toBe(Errno.EROFS);
    expect(errnoOf(() => files.open('/etc/new', CREATE, 0o644))).toBe(Errno.EROFS);
    const rnd = files.open('/dev/urandom', F.O_RDONLY, 0);
    expect(files.read(rnd, 32).length).toBe(32);
  });
});

describe('a host directory granted below /tmp', () => {
  it('is reachable and listed through the writable tree', () => {
    const vfs = new VirtualFS();
    vfs.mountTmp('/tmp');
    vfs.mountHost('/tmp/deep/project', PROJECT);
    const files = new FileTable(
      vfs,
      new Policy().allowRead(PROJECT),
      F,
      { maxOpenFiles: 16, maxOpenDirs: 4 },
      '/tmp',
      () => undefined,
    );
    expect(names(files, '/tmp')).toEqual(['deep']);
    expect(names(files, '/tmp/deep')).toEqual(['project']);
    const fd = files.open('/tmp/deep/project/README.txt', F.O_RDONLY, 0);
    expect(files.read(fd, 100).toString()).toBe('pypy-box fixture project\n');
    // The directory on the way to the mount is read-only, as the mount is.
    expect(errnoOf(() => files.open('/tmp/deep/new', CREATE, 0o644))).toBe(Errno.EROFS);
  });
});
