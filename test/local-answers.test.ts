import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Controller, Policy, type CallRecord, type ControllerOptions, type RunResult } from '../src/index.js';
import { findInterpreter } from '../src/guest/profile.js';

/**
 * The supervisor answers part of a stock guest's calls itself (src/supervisor/delegation.ts). What
 * the guest sees, and what the controller reports, must not depend on who answered: every probe
 * below runs once with local answers and once with every call forwarded, and the two are compared.
 */

const PROBE = String.raw`
import os, sys, hashlib
stdlib = os.path.dirname(os.__file__)
paths = [
  stdlib, stdlib + '/os.py', stdlib + '/nonexistent.py', stdlib + '/os.py/below', stdlib + '/.hidden',
  stdlib + '/./os.py', stdlib + '/../' + os.path.basename(stdlib) + '/os.py', '//' + stdlib.lstrip('/') + '//os.py',
  stdlib + '/encodings/', stdlib + '/encodings', stdlib + '/encodings/__pycache__', stdlib + '/nothere/x.py',
  stdlib + '/json/__init__.py',
  sys.executable, os.path.realpath(sys.executable), os.path.dirname(sys.executable) + '/nothing',
  '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2', '/usr/lib/x86_64-linux-gnu/libc.so.6',
  '/lib/x86_64-linux-gnu/nothing.so', '/lib/x86_64-linux-gnu/glibc-hwcaps/x86-64-v3/libc.so.6',
  '/etc/ld.so.cache', '/etc/passwd', '/etc/nothing/deeper', '/etc', '/usr', '/usr/lib', '/lib', '/lib64', '/',
  '/usr/lib/python3', '/usr/local/lib/x', '/proc/cpuinfo', '/proc/self/exe', '/proc', '/dev/null', '/dev/nothing',
  '/tmp', '/tmp/none', 'relative.py', '', '/usr/lib/' + 'x' * 300, '/home/user', '/usr/bin/pypy3', '/usr/bin/python3',
]
paths += sys.argv[1:]
# Seeded random names built from pieces of the real tree and awkward ones: both runs probe the same.
import random
rng = random.Random(20261124)
pieces = ['usr', 'lib', 'lib64', 'bin', 'etc', 'proc', 'tmp', 'dev', os.path.basename(stdlib), 'encodings', 'os.py',
          'x86_64-linux-gnu', 'libc.so.6', 'ld.so.cache', '..', '.', '', '.hidden', 'x' * 256, 'caf\u00e9', 'self', 'exe',
          os.path.basename(sys.executable), 'nothing']
for _ in range(300):
  name = '/'.join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
  paths.append(('/' if rng.random() < 0.9 else '') + name + ('/' if rng.random() < 0.1 else ''))
for top in (stdlib, stdlib + '/encodings', stdlib + '/json', stdlib + '/email'):
  try:
    paths += [top + '/' + n for n in sorted(os.listdir(top))[:120]]
  except OSError:
    pass

TMP_DEV = os.stat('/tmp').st_dev

def probe(p):
  p = p.encode('utf-8')  # bytes: names outside ASCII reach the kernel as they are
  out = []
  for follow in (True, False):
    try:
      st = os.stat(p, follow_symlinks=follow)
      # Times too (not atime: reading a host file may change it): the controller's own tree
      # shows one fixed time, the same in every run; /tmp is made by each run.
      times = (st.st_mtime_ns, st.st_ctime_ns) if st.st_dev != TMP_DEV else 'made by this run'
      out.append((st.st_mode, st.st_ino, st.st_dev, st.st_nlink, st.st_uid, st.st_gid, st.st_size,
                  times, st.st_blocks, st.st_blksize, st.st_rdev))
    except OSError as e:
      out.append(('E', e.errno))
  for m in (os.F_OK, os.R_OK, os.X_OK, os.R_OK | os.X_OK, os.W_OK):
    try:
      out.append(os.access(p, m))
    except OSError as e:
      out.append(('E', e.errno))
  try:
    with open(p, 'rb') as f:
      out.append(hashlib.sha1(f.read(4096)).hexdigest())
      # An open file is described as its name is (host files behind real descriptors included).
      a, b = os.fstat(f.fileno()), os.stat(p)
      out.append(tuple(a)[:7] == tuple(b)[:7] and (a.st_mtime_ns, a.st_ctime_ns) == (b.st_mtime_ns, b.st_ctime_ns))
  except OSError as e:
    out.append(('E', e.errno))
  try:
    out.append(os.readlink(p))
  except OSError as e:
    out.append(('E', e.errno))
  return out

for p in paths:
  print(repr(p), probe(p))

def streams():
  for fd in (0, 1, 2):
    try:
      st = os.fstat(fd)
      print(fd, st.st_mode, st.st_dev, st.st_ino, st.st_uid, st.st_gid, st.st_size, st.st_blksize, st.st_mtime_ns)
    except OSError as e:
      print(fd, 'E', e.errno)
    try:
      print(fd, os.lseek(fd, 0, os.SEEK_CUR))
    except OSError as e:
      print(fd, 'lseek E', e.errno)
    print(fd, os.isatty(fd), os.get_inheritable(fd))
streams()
# Directory descriptors: described as the directory's name is; a number closed and given again
# describes the new file, not the old directory.
for d in (stdlib, stdlib + '/json', '/usr', '/', '/tmp'):
  try:
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    a = os.fstat(fd)
    names = os.listdir(fd)
    os.close(fd)
    print('dirfd', d, tuple(a)[:7] == tuple(os.stat(d))[:7], len(names))
  except OSError as e:
    print('dirfd', d, 'E', e.errno)
# Listings in pieces, with a buffer too small for one entry, rewound, and through a duplicate
# sharing the position: the supervisor answers from the listing sent at open, until a rewind.
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
def dents(fd, n):
  buf = ctypes.create_string_buffer(n)
  r = libc.syscall(217, fd, buf, n)
  return (r, ctypes.get_errno()) if r < 0 else (r, hashlib.sha1(buf.raw[:r]).hexdigest()[:12])
for d in (stdlib + '/json', '/', '/usr/lib'):
  fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
  print('dents', d, [dents(fd, n) for n in (10, 200, 64, 300, 100000, 100000)])
  os.lseek(fd, 0, 0)
  print('dents rewound', dents(fd, 100000))
  fd2 = os.dup(fd)
  os.lseek(fd2, 0, 0)
  print('dents dup', dents(fd, 150), dents(fd2, 150), dents(fd, 100000), dents(fd2, 100000))
  os.close(fd2)
  os.close(fd)
fd = os.open(stdlib, os.O_RDONLY | os.O_DIRECTORY)
print('dents then close', dents(fd, 100)[0] > 0)
os.close(fd)
with open('/tmp/reuse-probe', 'wb') as f:
  f.write(b'r' * 104)
fd2 = os.open('/tmp/reuse-probe', os.O_RDONLY)
print('reuse', fd2 == fd, os.fstat(fd2).st_size, os.path.isfile('/tmp/reuse-probe'))
os.close(fd2)
# A small read-only virtual file is a sealed copy: reads and seeks run natively, writes fail,
# and it is described as its name is.
f = os.open('/proc/cpuinfo', os.O_RDONLY)
a = os.read(f, 10)
os.lseek(f, 0, 0)
b = os.read(f, 1000)
try:
  os.write(f, b'x')
  w = 'wrote'
except OSError as e:
  w = e.errno
print('copy', a == b[:10], len(b), w, tuple(os.fstat(f))[:7] == tuple(os.stat('/proc/cpuinfo'))[:7], os.fstat(f).st_mtime_ns == os.stat('/proc/cpuinfo').st_mtime_ns)
os.close(f)
fd = os.open(stdlib, os.O_RDONLY | os.O_DIRECTORY)
fd3 = os.open('/proc/meminfo', os.O_RDONLY)
os.dup2(fd3, fd)
print('dup2', os.fstat(fd).st_size, os.fstat(fd).st_mode)
os.close(fd)
os.close(fd3)
# The guest's own memfd, named like the supervisor's placeholders, is still the guest's own file.
try:
  m = os.memfd_create('pypy-box-stdin')
  os.write(m, b'abc')
  os.dup2(m, 0)
  print('memfd', os.lseek(0, 0, os.SEEK_CUR), os.fstat(0).st_size)
except (AttributeError, OSError) as e:
  print('memfd', type(e).__name__, getattr(e, 'errno', None))
copy = os.dup(1)
print('dup', os.fstat(copy).st_mode, os.isatty(copy))
os.dup2(copy, 0)
os.close(os.dup(2))
streams()
print('random', len(os.urandom(16)), len(os.urandom(100000)), len(set(os.urandom(16) for _ in range(50))))
print('uname', tuple(os.uname()))
import time
c = os.getcwd()
s1 = os.stat(c)
s2 = os.stat(c)
time.sleep(0.01)
with open(c + '/probe-new.txt', 'w') as f:
  f.write('x')
s3 = os.stat(c)
print('cwd', c, s1 == s2, s1.st_mtime_ns != s3.st_mtime_ns)
# Listing a directory of the interpreter's library changes nothing here; a new file here does.
s4 = os.stat(c)
os.listdir(stdlib + '/json')
s5 = os.stat(c)
time.sleep(0.01)
with open(c + '/probe-new2.txt', 'w') as f:
  f.write('y')
s3 = os.stat(c)
print('cwd kept', s4 == s5, s3.st_mtime_ns != s5.st_mtime_ns)
os.chdir('/usr/lib')
print('cwd', os.getcwd(), os.stat('/usr/lib') == os.stat(os.getcwd()))
os.chdir(c)
print('cwd', os.getcwd(), os.stat(c) == s3)
print('probed', len(paths))
`;

async function run(
  python: string,
  localAnswers: boolean,
  extra: Partial<ControllerOptions> = {},
  more: string[] = [],
): Promise<{ r: RunResult; recs: CallRecord[] }> {
  const recs: CallRecord[] = [];
  const r = await new Controller({
    python,
    args: ['-c', PROBE, ...more],
    timeout: 60_000,
    localAnswers,
    onCall: (c) => recs.push(c),
    ...extra,
  }).run();
  return { r, recs };
}

const local = (recs: CallRecord[]) => recs.filter((c) => c.note === 'answered by the supervisor');
const denied = (r: RunResult) => r.denied.map((d) => `${d.sig} ${d.op} ${d.path} ${d.errno} ${d.reason}`).sort();

describe.each(['pypy3', 'python3'].filter((p) => findInterpreter(p)))('local answers in stock %s', (python) => {
  it('give the guest the same answers as the controller, and the same counts', async () => {
    const a = await run(python, true);
    const b = await run(python, false);
    // A second run with the same recipe reuses the local answers decided for the first.
    const again = await run(python, true);
    expect(a.r.exitCode, a.r.stderr.toString()).toBe(0);
    const text = a.r.stdout.toString();
    expect(text).toMatch(/probed \d{3,}/);
    expect(text).toContain('random 16 100000 50');
    expect(text).toContain('memfd 3 3\n');
    expect(text).toMatch(/dents \/ \[\(-1, 22\), \(\d+, '[0-9a-f]{12}'\)/);
    // Listings were answered from the records sent with the open.
    expect(local(a.recs).filter((c) => c.sig === 'getdents64(ipi)i').length).toBeGreaterThan(5);
    expect(text).toMatch(/reuse True 104 True\ncopy True 104 9 True True\ndup2 84 33060\n/);
    expect(text).not.toMatch(/dirfd .* False/);
    expect(text).not.toMatch(/'[0-9a-f]{40}', False/); // fstat of an open file always agreed with stat
    expect(text).toContain('cwd /tmp True True\ncwd kept True True\ncwd /usr/lib True\ncwd /tmp True\n');
    expect(
      local(a.recs).some((c) => c.sig === 'newfstatat(ippi)i' && c.path === '/tmp' && /repeated/.test(c.reason ?? '')),
    ).toBe(true);
    expect(text).toBe(b.r.stdout.toString());
    expect(again.r.stdout.toString()).toBe(text);
    expect(again.r.denials).toBe(a.r.denials);
    expect(a.r.calls).toBe(b.r.calls);
    expect(a.r.denials).toBe(b.r.denials);
    expect(denied(a.r)).toEqual(denied(b.r));
    // Most of the probing was answered without a round trip; none of it when switched off.
    expect(local(a.recs).length).toBeGreaterThan(a.recs.length / 3);
    expect(local(b.recs)).toHaveLength(0);
    // Reports keep the call order and say why.
    expect(a.recs.map((c) => c.seq)).toEqual(a.recs.map((_, k) => k + 1));
    const libc = local(a.recs).find((c) => c.path === '/lib/x86_64-linux-gnu/libc.so.6' && c.errno === undefined);
    expect(libc?.reason).toMatch(/^host \/usr\/lib\/x86_64-linux-gnu\/libc\.so\.6 under read grant/);
    // Directories and symlinks of the controller's own tree: their stat was handed over too.
    for (const own of ['/', '/usr', '/etc', '/lib']) {
      expect(
        local(a.recs).some(
          (c) => c.path === own && c.sig === 'newfstatat(ippi)i' && c.reason === 'virtual file of the sandbox',
        ),
        own,
      ).toBe(true);
    }
    const outside = local(a.recs).find((c) => c.path === '/etc/passwd');
    expect(outside).toMatchObject({
      allowed: false,
      errno: 13,
      reason: "/etc/passwd is outside the sandbox's filesystem (not whitelisted)",
    });
  });

  it('agree on a granted host tree with symlinks, hidden names, a FIFO and a nested directory', async () => {
    // Not under /tmp: the guest's /tmp is its own in-memory tree, and a grant inside it is not
    // handed to the supervisor (it lies below another mount).
    const dir = fs.realpathSync(
      fs.mkdtempSync(path.join(fs.existsSync('/var/tmp') ? '/var/tmp' : os.homedir(), 'pypy-box-local-')),
    );
    onTestFinished(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.mkdirSync(path.join(dir, 'sub/deeper'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'a.txt'), 'alpha');
    fs.writeFileSync(path.join(dir, 'run.sh'), '#!/bin/sh\n', { mode: 0o755 });
    fs.writeFileSync(path.join(dir, 'sub/deeper/b.txt'), 'beta');
    fs.writeFileSync(path.join(dir, '.secret'), 'hidden');
    fs.symlinkSync('a.txt', path.join(dir, 'inside-link'));
    fs.symlinkSync('/etc/passwd', path.join(dir, 'outside-link'));
    fs.symlinkSync('sub', path.join(dir, 'dir-link'));
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    const names = [
      '',
      '/a.txt',
      '/run.sh',
      '/sub',
      '/sub/deeper',
      '/sub/deeper/b.txt',
      '/sub/nothing',
      '/.secret',
      '/inside-link',
      '/outside-link',
      '/dir-link/deeper/b.txt',
      '/pipe',
      '/pipe/x',
      '/a.txt/x',
      '/sub/../a.txt',
      '/missing/deeper',
    ].map((n) => dir + n);
    const opts = () => ({ policy: new Policy().allowRead(dir) });
    const a = await run(python, true, opts(), names);
    const b = await run(python, false, opts(), names);
    expect(a.r.exitCode, a.r.stderr.toString()).toBe(0);
    expect(a.r.stdout.toString()).toContain(`'${dir}/sub/deeper/b.txt' [(`);
    expect(a.r.stdout.toString()).toBe(b.r.stdout.toString());
    expect(denied(a.r)).toEqual(denied(b.r));
    expect(local(a.recs).some((c) => c.path === `${dir}/sub/deeper/b.txt`)).toBe(true);
    for (const name of ['/inside-link', '/outside-link', '/.secret', '/pipe']) {
      expect(
        local(a.recs).some((c) => c.path === dir + name),
        name,
      ).toBe(false);
    }
  });

  it('describe open host files as their names, with the identity given, either way', async () => {
    const code =
      'import os\np = os.path.dirname(os.__file__) + "/os.py"\nf = open(p, "rb")\na, b = os.fstat(f.fileno()), os.stat(p)\nprint(a.st_uid, a.st_gid, a.st_dev == b.st_dev, a.st_mode == b.st_mode, os.getuid(), os.fstat(1).st_uid)';
    for (const localAnswers of [true, false]) {
      const r = await new Controller({
        python,
        args: ['-c', code],
        localAnswers,
        identity: { uid: 4321, gid: 77 },
      }).run();
      expect(r.stdout.toString()).toBe('4321 77 True True 4321 4321\n');
    }
  });

  it('show the same uname either way, answered by the supervisor when they can', async () => {
    const outs: string[] = [];
    for (const localAnswers of [true, false]) {
      const recs: CallRecord[] = [];
      const r = await new Controller({
        python,
        args: ['-c', 'import os\nprint(tuple(os.uname()))'],
        localAnswers,
        identity: { hostname: 'box-7' },
        onCall: (c) => recs.push(c),
      }).run();
      outs.push(r.stdout.toString());
      const unames = recs.filter((c) => c.sig === 'uname(p)i');
      expect(unames.length).toBeGreaterThan(0);
      for (const c of unames) expect(c.note === 'answered by the supervisor').toBe(localAnswers);
    }
    expect(outs[0]).toBe(outs[1]);
    expect(outs[0]).toMatch(/^\('Linux', 'box-7', /);
  });

  it("open small read-only files as sealed copies, with this run's content, whatever their size", async () => {
    const code =
      'import os, sys\nfor p in sys.argv[1:]:\n  f = open(p, "rb")\n  d = f.read()\n  print(p, len(d), d[:12], os.fstat(f.fileno()).st_size, f.fileno() < 512)';
    const paths = ['/data/small.txt', '/data/medium.bin', '/data/large.bin'];
    for (const [k, word] of ['one', 'two two'].entries()) {
      const files = {
        '/data/small.txt': word,
        '/data/medium.bin': Buffer.alloc(200_000, 65 + k),
        '/data/large.bin': Buffer.alloc(1_500_000, 97 + k),
      };
      const outs: string[] = [];
      for (const localAnswers of [true, false]) {
        const r = await new Controller({ python, args: ['-c', code, ...paths], files, localAnswers }).run();
        outs.push(r.stdout.toString());
      }
      expect(outs[0]).toBe(outs[1]);
      const big = String.fromCharCode(65 + k).repeat(12);
      // Up to 1 MiB a sealed copy (a descriptor below 512); larger files stay virtual descriptors.
      expect(outs[0]).toBe(
        `/data/small.txt ${word.length} b'${word}' ${word.length} True\n/data/medium.bin 200000 b'${big}' 200000 True\n/data/large.bin 1500000 b'${String.fromCharCode(97 + k).repeat(12)}' 1500000 False\n`,
      );
    }
  });

  it('are not used where the policy has rules or a handler is replaced', async () => {
    const policy = new Policy().deny('**/json/**', ['read'], 'no json here');
    const withRule = await run(python, true, { policy });
    expect(local(withRule.recs)).toHaveLength(0);
    expect(withRule.r.stdout.toString()).toMatch(/\/json\/__init__\.py' \[.*\('E', 13\), \('E', 22\)\]/);
    // A terminal's state lives in the controller: its streams stay there.
    const terminal = await run(python, true, { tty: true });
    expect(terminal.r.stdout.toString()).toContain('\n1 True True\n');
    expect(local(terminal.recs).filter((c) => c.sig.startsWith('ioctl'))).toHaveLength(0);
    const replaced = await run(python, true, { handlers: { 'getuid()i': () => 4242 } });
    expect(replaced.r.stdout.toString()).toMatch(/probed/);
    expect(replaced.recs.find((c) => c.sig === 'getuid()i')?.note).not.toBe('answered by the supervisor');
  });

  it('are not used with a path limit past PATH_MAX, and the run goes on (its configuration was refused)', async () => {
    const long = await run(python, true, { limits: { pathLength: 8192 } });
    expect(long.r.exitCode).toBe(0);
    expect(long.r.stdout.toString()).toMatch(/probed/);
    expect(local(long.recs).filter((c) => c.sig !== 'close(i)i')).toHaveLength(0);
  });
});
