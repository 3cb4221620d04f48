import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Controller, Policy, type ControllerOptions, type RunResult } from '../src/index.js';
import { childPids } from './helpers.js';

/** Runs Python code in a stock interpreter under the supervisor. */
function py(code: string, opts: Partial<ControllerOptions> = {}): Promise<RunResult> {
  return new Controller({ python: 'pypy3', args: ['-c', code], timeout: 30_000, ...opts }).run();
}

function out(r: RunResult): string {
  return r.stdout.toString();
}

describe.each(['pypy3', 'python3'])('stock %s under the supervisor', (python) => {
  const run = (code: string, opts: Partial<ControllerOptions> = {}) => py(code, { python, ...opts });

  it('prints 6*7', async () => {
    const r = await run('print(6*7)');
    expect(r).toMatchObject({ outcome: 'exited', exitCode: 0 });
    expect(out(r)).toBe('42\n');
    expect(r.walls).toContain('seccomp-user-notify');
  });

  it('sees no other process: pid 2 in a PID namespace of its own, where the kernel allows it', async () => {
    const r = await run('import os; print(os.getpid(), os.getppid())');
    if (r.walls.includes('pid-ns')) expect(out(r)).toBe('2 1\n');
  });

  it('imports json, re, collections, math and decimal', async () => {
    const r = await run(
      'import json, re, collections, math, decimal\nprint(json.dumps([re.sub("a", "b", "aa"), math.factorial(5), str(decimal.Decimal("1.10") + 1), collections.Counter("aab")["a"]]))',
    );
    expect(out(r)).toBe('["bb", 120, "2.10", 2]\n');
  });

  it('cannot open host files outside its installation', async () => {
    const r = await run(
      "import os\nfor p in ['/etc/passwd', '/etc/shadow', '/root/.bashrc', '/proc/self/environ', os.path.expanduser('~')]:\n  try:\n    open(p).read()\n    print('READ', p)\n  except OSError as e:\n    print(type(e).__name__, p)",
    );
    expect(out(r)).not.toContain('READ');
    expect(out(r).trim().split('\n')).toHaveLength(5);
  });

  it('sees only the virtual root', async () => {
    const r = await run('import os; print(sorted(os.listdir("/")))');
    const names = JSON.parse(out(r).replace(/'/g, '"')) as string[];
    expect(names).toEqual(expect.arrayContaining(['tmp', 'dev', 'usr']));
    for (const host of ['home', 'root', 'var', 'boot', 'srv', 'opt', 'work', 'sys']) expect(names).not.toContain(host);
  });

  it('ioctl on an open host file: FIONREAD works, terminal requests are ENOTTY', async () => {
    const r = await run(
      'import os, fcntl, termios, array\nf = open(os.__file__, "rb")\nb = array.array("i", [0])\nfcntl.ioctl(f.fileno(), termios.FIONREAD, b)\n' +
        'print(b[0] == os.fstat(f.fileno()).st_size, f.isatty())\ntry:\n  termios.tcgetattr(f.fileno())\nexcept Exception as e:\n  print(e.args[0])',
    );
    expect(out(r)).toBe('True False\n25\n');
  });

  it('fcntl on an open host file: flags work; O_ASYNC, locks and owners are EPERM; F_DUPFD works', async () => {
    const r = await run(
      'import os, fcntl\nf = open(os.__file__, "rb")\nfd = f.fileno()\nfl = fcntl.fcntl(fd, fcntl.F_GETFL)\n' +
        'fcntl.fcntl(fd, fcntl.F_SETFL, fl | os.O_NONBLOCK)\nprint(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK != 0, fcntl.fcntl(fd, fcntl.F_GETFD))\n' +
        'for args in [(fcntl.F_SETFL, fl | 0o20000), (fcntl.F_SETLK, bytes(32)), (fcntl.F_SETOWN, 1)]:\n  try:\n    fcntl.fcntl(fd, *args)\n    print("ran")\n  except OSError as e:\n    print(e.errno)\n' +
        'd = fcntl.fcntl(fd, fcntl.F_DUPFD, 100)\nprint(d >= 100, os.read(d, 6) == open(os.__file__, "rb").read(6))',
    );
    expect(out(r)).toBe('True 1\n1\n1\n1\nTrue True\n');
  });

  it('reads large /tmp files back intact, in chunks of every size', async () => {
    const r = await run(
      "import os, hashlib\ndata = os.urandom(3 << 20)\nwith open('/tmp/big.bin', 'wb') as f: f.write(data)\n" +
        "for size in (1000, 8192, 65536, 1 << 20, 3 << 20):\n  h = hashlib.sha256()\n  fd = os.open('/tmp/big.bin', os.O_RDONLY)\n" +
        '  while True:\n    b = os.read(fd, size)\n    if not b: break\n    h.update(b)\n  os.close(fd)\n  print(size, h.digest() == hashlib.sha256(data).digest())',
    );
    expect(out(r)).toBe('1000 True\n8192 True\n65536 True\n1048576 True\n3145728 True\n');
  });

  it('writes /tmp in memory: the host reads it through the VFS, nothing lands on disk', async () => {
    const marker = `pypy-box-out-${process.pid}-${python}.txt`;
    const r = await run(
      `with open('/tmp/${marker}', 'w') as f: f.write('hello from inside')\nprint(open('/tmp/${marker}').read())`,
    );
    expect(out(r)).toBe('hello from inside\n');
    expect(r.vfs.snapshot('/tmp')[marker]?.toString()).toBe('hello from inside');
    expect(fs.existsSync(path.join('/tmp', marker))).toBe(false);
    expect(fs.existsSync(path.join(os.tmpdir(), marker))).toBe(false);
  });

  it('refuses sockets, fork, subprocesses and system() without creating a process', async () => {
    await closeSpareSupervisor(); // an intended idle process: not a leak
    const before = childPids();
    const r = await run(
      [
        'import os, socket, subprocess',
        'def attempt(name, f):',
        '  try:',
        '    print(name, "RESULT", f())',
        '  except OSError as e:',
        '    print(name, "OSError", e.errno)',
        'attempt("socket", lambda: socket.socket())',
        'attempt("fork", os.fork)',
        'attempt("subprocess", lambda: subprocess.run(["ls"]))',
        'attempt("system", lambda: os.system("id"))',
      ].join('\n'),
    );
    const lines = out(r).trim().split('\n');
    expect(lines[0]).toMatch(/^socket OSError \d+$/);
    expect(lines[1]).toMatch(/^fork OSError 1$/);
    expect(lines[2]).toMatch(/^subprocess OSError \d+$/);
    // glibc's system() reports a shell that could not be started as exit status 127.
    expect(lines[3]).toBe('system RESULT 32512');
    await closeSpareSupervisor();
    expect(childPids()).toEqual(before);
  });

  it('traps raw system calls made through ctypes', async () => {
    const r = await run(
      [
        'import ctypes',
        'libc = ctypes.CDLL(None, use_errno=True)',
        'print("open", libc.syscall(2, b"/etc/passwd", 0), ctypes.get_errno())',
        'print("openat", libc.syscall(257, -100, b"/etc/hostname", 0), ctypes.get_errno())',
        'print("clone", libc.syscall(56, 17, 0, 0, 0, 0), ctypes.get_errno())',
        'print("ptrace", libc.syscall(101, 0, 0, 0, 0), ctypes.get_errno())',
      ].join('\n'),
    );
    // EACCES: /etc/passwd and /etc/hostname are outside the sandbox's filesystem.
    expect(out(r)).toBe('open -1 13\nopenat -1 13\nclone -1 1\nptrace -1 1\n');
  });

  it('stops an endless loop at the timeout, and the interpreter is gone', async () => {
    const token = `endless-${process.pid}-${python}`;
    const r = await run(`while True: pass  # ${token}`, { timeout: 1500 });
    expect(r).toMatchObject({ outcome: 'timeout', timedOut: true, limit: { name: 'timeout', value: 1500 } });
    await new Promise((res) => setTimeout(res, 200));
    const survivors = fs.readdirSync('/proc').filter((p) => {
      try {
        return /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(token);
      } catch {
        return false;
      }
    });
    expect(survivors).toEqual([]);
  });

  it('tells how the guest ended as soon as it has (exit status, signal), and leaves no process behind', async () => {
    const exited = await run('import sys; print("bye"); sys.exit(7)');
    expect(exited).toMatchObject({ outcome: 'exited', exitCode: 7 });
    expect(out(exited)).toBe('bye\n');
    const killed = await run('import os, signal; os.kill(os.getpid(), signal.SIGSEGV)');
    expect(killed).toMatchObject({ outcome: 'signaled', signal: 'SIGSEGV' });
    // The supervisors finish tearing down by themselves; closeSpareSupervisor waits for them too.
    await closeSpareSupervisor();
    expect(childPids()).toEqual([]);
  });

  it('stops a CPU-bound loop at the CPU limit and says so', async () => {
    const r = await run('while True: pass', { limits: { cpuSeconds: 1 } });
    expect(r).toMatchObject({ outcome: 'limit', limit: { name: 'cpu', value: 1 } });
  });

  it('stops a memory bomb at the heap limit and says so', async () => {
    const r = await run('l = []\nwhile True: l.append(bytearray(10**6))', { limits: { heapBytes: 200 * 1024 * 1024 } });
    expect(r).toMatchObject({ outcome: 'limit', limit: { name: 'heap', value: 200 * 1024 * 1024 } });
  });

  it('runs a script from a host directory given as /tmp', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'script-'));
    fs.writeFileSync(
      path.join(dir, 'main.py'),
      'import os\nprint(os.getcwd(), sorted(os.listdir(".")))\nopen("made.txt", "w").close()\n',
    );
    const r = await new Controller({ python, args: ['main.py'], tmpDir: dir, timeout: 30_000 }).run();
    expect(out(r)).toBe("/tmp ['main.py']\n");
    expect(fs.readdirSync(dir)).toEqual(['main.py']);
    expect(Object.keys(r.vfs.snapshot('/tmp')).sort()).toEqual(['made.txt', 'main.py']);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('escape attempts from a stock interpreter', () => {
  it('cannot change, lock or flag a granted host file through its real descriptor, even keeping root', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'granted-'));
    const file = path.join(dir, 'data.txt');
    fs.writeFileSync(file, 'data\n');
    fs.chmodSync(file, 0o644);
    const code = [
      'import os, fcntl',
      `fd = os.open(${JSON.stringify(file)}, os.O_RDONLY)`,
      'def attempt(name, f):',
      '  try:',
      '    f()',
      '    print(name, "ok")',
      '  except OSError as e:',
      '    print(name, type(e).__name__, e.errno)',
      'attempt("fchmod", lambda: os.fchmod(fd, 0o777))',
      'attempt("fchown", lambda: os.fchown(fd, 1234, 1234))',
      'attempt("lockf", lambda: fcntl.lockf(fd, fcntl.LOCK_SH))',
      'attempt("setown", lambda: fcntl.fcntl(fd, fcntl.F_SETOWN, 1))',
      'attempt("ioctl-setflags", lambda: fcntl.ioctl(fd, 0x40086602, b"\\0" * 8))',
      'attempt("write", lambda: os.write(fd, b"x"))',
      'attempt("flock", lambda: fcntl.flock(fd, fcntl.LOCK_EX))',
      'print(os.read(fd, 10))',
    ].join('\n');
    const r = await new Controller({
      python: 'python3',
      args: ['-c', code],
      policy: new Policy().allowRead(dir),
      walls: { dropRoot: false },
      timeout: 30_000,
    }).run();
    expect(r.stdout.toString()).toBe(
      [
        'fchmod PermissionError 1',
        'fchown PermissionError 1',
        'lockf PermissionError 1',
        'setown PermissionError 1',
        'ioctl-setflags OSError 25',
        'write OSError 9',
        'flock ok',
        "b'data\\n'",
        '',
      ].join('\n'),
    );
    expect(fs.statSync(file).mode & 0o777).toBe(0o644);
    expect(fs.statSync(file).uid).toBe(process.getuid!());
    fs.rmSync(dir, { recursive: true });
  });

  it('a thread bomb stops at the thread limit', async () => {
    const r = await py(
      'import threading, time\nn = 0\ntry:\n  for i in range(5000):\n    threading.Thread(target=time.sleep, args=(3,), daemon=True).start(); n += 1\nexcept RuntimeError:\n  print("stopped", n)',
      { python: 'python3' },
    );
    expect(out(r)).toMatch(/^stopped 25\d\n$/);
  });

  it('cannot reach the host through symlinks, /proc, signals or directory descriptors', async () => {
    const code = [
      'import os',
      'def attempt(name, f):',
      '  try:',
      '    print(name, "RESULT", f())',
      '  except OSError as e:',
      '    print(name, type(e).__name__)',
      'os.symlink("/etc/passwd", "/tmp/link")',
      'attempt("symlink", lambda: open("/tmp/link").read())',
      'os.symlink("../../../../etc", "/tmp/up")',
      'attempt("relative-symlink", lambda: os.listdir("/tmp/up"))',
      'attempt("proc-exe", lambda: os.readlink("/proc/self/exe"))',
      'attempt("proc-root", lambda: os.listdir("/proc/1/root"))',
      'attempt("kill-init", lambda: os.kill(1, 9))',
      'attempt("kill-group", lambda: os.kill(0, 9))',
      'd = os.open("/tmp", os.O_RDONLY | os.O_DIRECTORY)',
      'attempt("dirfd-escape", lambda: os.open("../../etc/passwd", os.O_RDONLY, dir_fd=d))',
      'attempt("chdir-escape", lambda: (os.chdir("/../../.."), os.listdir("."))[1])',
    ].join('\n');
    const r = await py(code, { python: 'python3' });
    const lines = out(r).trim().split('\n');
    expect(lines).toEqual([
      'symlink PermissionError',
      // The link resolves inside the virtual tree: its /etc holds only the loader's cache and UTC as local time.
      "relative-symlink RESULT ['ld.so.cache', 'localtime']",
      // /proc is virtual: cpuinfo and meminfo, made up.
      'proc-exe FileNotFoundError',
      'proc-root FileNotFoundError',
      'kill-init PermissionError',
      'kill-group PermissionError',
      'dirfd-escape PermissionError',
      expect.stringMatching(/^chdir-escape RESULT \[.*'tmp'.*\]$/),
    ]);
    expect(lines.at(-1)).not.toMatch(/'home'|'root'|'var'/);
  });
});
