/** Everyday uses of the library: input files in /tmp, exporting what the guest wrote, a tree built by hand. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller, ExportError, OptionError, Policy, VirtualFS } from '../src/index.js';

let work: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-library-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

const run = (code: string, opts: ConstructorParameters<typeof Controller>[0] = {}) =>
  new Controller({ python: 'pypy3', args: ['-c', code], timeout: 30_000, ...opts }).run();

describe('tmpFiles', () => {
  it('are in the writable /tmp: read, changed and removed by the guest, counted in its quota', async () => {
    const r = await run(
      'import os\nprint(open("/tmp/data.csv").read(), open("/tmp/in/raw.bin", "rb").read())\nwith open("/tmp/data.csv", "a") as f: f.write("2\\n")\nprint(repr(open("/tmp/data.csv").read()))\nos.remove("/tmp/in/raw.bin")\nprint(sorted(os.listdir("/tmp")), os.listdir("/tmp/in"))',
      { tmpFiles: { 'data.csv': 'n\n1\n', 'in/raw.bin': Buffer.of(0, 255) } },
    );
    expect(r.stderr.toString()).toBe('');
    expect(r.stdout.toString()).toBe("n\n1\n b'\\x00\\xff'\n'n\\n1\\n2\\n'\n['data.csv', 'in'] []\n");
    expect(r.vfs.snapshot('/tmp')).toEqual({ 'data.csv': Buffer.from('n\n1\n2\n') });
  });

  it('are refused up front with bad names, beyond the quota, or beside a ready VirtualFS', async () => {
    for (const name of ['../x', '/abs', 'a/../b', 'a//b', '']) {
      expect(() => new Controller({ python: 'pypy3', tmpFiles: { [name]: 'x' } })).toThrow(OptionError);
    }
    expect(() => new Controller({ python: 'pypy3', tmpFiles: { a: 5 as unknown as string } })).toThrow(
      /tmpFiles\["a"\]: expected a string or a Buffer/,
    );
    await expect(
      new Controller({ python: 'pypy3', tmpFiles: { big: Buffer.alloc(4096) }, limits: { tmpBytes: 4096 } }).run(),
    ).rejects.toThrow(/tmpFiles: do not fit in the \/tmp quota/);
    expect(() => new Controller({ python: 'pypy3', tmpFiles: { a: 'x' }, vfs: new VirtualFS() })).toThrow(
      /either a ready VirtualFS or/,
    );
  });
});

describe('VirtualFS.exportTo', () => {
  /** A tree as a guest could leave it: files, a directory, symlinks in and out. */
  function guestTree(): VirtualFS {
    const vfs = new VirtualFS();
    const tmp = vfs.mountTmp('/tmp', { files: { 'out/a.txt': 'A', 'out/deep/b.txt': 'BB' } });
    tmp.symlink!(['out', 'passwd'], '/etc/passwd');
    tmp.symlink!(['out', 'up'], '../../..');
    return vfs;
  }

  it('writes the files and directories, leaves symlinks out and tells them', () => {
    const dir = path.join(work, 'export-1', 'made');
    const report = guestTree().exportTo('/tmp/out', dir);
    expect(report.files.sort()).toEqual(['/tmp/out/a.txt', '/tmp/out/deep/b.txt']);
    expect(report.bytes).toBe(3);
    expect(report.skipped.map((s) => s.path).sort()).toEqual(['/tmp/out/passwd', '/tmp/out/up']);
    expect(fs.readdirSync(dir, { recursive: true }).sort()).toEqual(['a.txt', 'deep', 'deep/b.txt']);
  });

  it('refuses as a whole, writing nothing: too many bytes, a taken name, a symlink at the target, a symlink as the exported path', () => {
    const dir = path.join(work, 'export-2');
    expect(() => guestTree().exportTo('/tmp/out', dir, { maxBytes: 2 })).toThrow(ExportError);
    expect(fs.existsSync(dir)).toBe(false);
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a.txt'), 'mine');
    expect(() => guestTree().exportTo('/tmp/out', dir)).toThrow(/a\.txt exists \(overwrite not allowed\)/);
    expect(fs.readdirSync(dir)).toEqual(['a.txt']);
    fs.rmSync(path.join(dir, 'a.txt'));
    fs.symlinkSync('/etc', path.join(dir, 'deep'));
    expect(() => guestTree().exportTo('/tmp/out', dir, { overwrite: true })).toThrow(
      /deep exists and is not a directory \(a symlink\)/,
    );
    expect(fs.readdirSync(dir)).toEqual(['deep']);
    expect(() => guestTree().exportTo('/tmp/out/passwd', dir)).toThrow(/not a directory \(a symlink, not followed\)/);
  });
});

describe('a VirtualFS built by hand', () => {
  it('runs a stock interpreter: its installation is added to the tree, once, and the tree serves several runs', async () => {
    const vfs = new VirtualFS();
    vfs.mountTmp('/tmp');
    vfs.addFile('/etc/motd', 'hello\n');
    const policy = new Policy();
    for (let k = 0; k < 2; k++) {
      const r = await run('print(open("/etc/motd").read().strip(), 6 * 7)', { vfs, policy });
      expect(r.stderr.toString()).toBe('');
      expect(r.stdout.toString()).toBe('hello 42\n');
    }
    // The caller's policy is left as it was (a run adds the installation's grants to its own copy).
    expect(policy.grants).toEqual([]);
  });
});
