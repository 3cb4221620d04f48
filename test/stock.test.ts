import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Controller, type ControllerOptions, type RunResult } from '../src/index.js';
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

  it('imports json, re, collections, math and decimal', async () => {
    const r = await run('import json, re, collections, math, decimal\nprint(json.dumps([re.sub("a", "b", "aa"), math.factorial(5), str(decimal.Decimal("1.10") + 1), collections.Counter("aab")["a"]]))');
    expect(out(r)).toBe('["bb", 120, "2.10", 2]\n');
  });

  it('cannot open host files outside its installation', async () => {
    const r = await run("import os\nfor p in ['/etc/passwd', '/etc/shadow', '/root/.bashrc', '/proc/self/environ', os.path.expanduser('~')]:\n  try:\n    open(p).read()\n    print('READ', p)\n  except OSError as e:\n    print(type(e).__name__, p)");
    expect(out(r)).not.toContain('READ');
    expect(out(r).trim().split('\n')).toHaveLength(5);
  });

  it('sees only the virtual root', async () => {
    const r = await run('import os; print(sorted(os.listdir("/")))');
    const names = JSON.parse(out(r).replace(/'/g, '"')) as string[];
    expect(names).toEqual(expect.arrayContaining(['tmp', 'dev', 'usr']));
    for (const host of ['home', 'root', 'var', 'boot', 'srv', 'opt', 'work', 'sys']) expect(names).not.toContain(host);
  });

  it('writes /tmp in memory: the host reads it through the VFS, nothing lands on disk', async () => {
    const marker = `pypy-box-out-${process.pid}-${python}.txt`;
    const r = await run(`with open('/tmp/${marker}', 'w') as f: f.write('hello from inside')\nprint(open('/tmp/${marker}').read())`);
    expect(out(r)).toBe('hello from inside\n');
    expect(r.vfs.snapshot('/tmp')[marker]?.toString()).toBe('hello from inside');
    expect(fs.existsSync(path.join('/tmp', marker))).toBe(false);
    expect(fs.existsSync(path.join(os.tmpdir(), marker))).toBe(false);
  });

  it('refuses sockets, fork, subprocesses and system() without creating a process', async () => {
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

  it('stops a memory bomb at the heap limit and says so', async () => {
    const r = await run('l = []\nwhile True: l.append(bytearray(10**6))', { limits: { heapBytes: 200 * 1024 * 1024 } });
    expect(r).toMatchObject({ outcome: 'limit', limit: { name: 'heap', value: 200 * 1024 * 1024 } });
  });

  it('runs a script from a host directory given as /tmp', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'script-'));
    fs.writeFileSync(path.join(dir, 'main.py'), 'import os\nprint(os.getcwd(), sorted(os.listdir(".")))\nopen("made.txt", "w").close()\n');
    const r = await new Controller({ python, args: ['main.py'], tmpDir: dir, timeout: 30_000 }).run();
    expect(out(r)).toBe("/tmp ['main.py']\n");
    expect(fs.readdirSync(dir)).toEqual(['main.py']);
    expect(Object.keys(r.vfs.snapshot('/tmp')).sort()).toEqual(['made.txt', 'main.py']);
    fs.rmSync(dir, { recursive: true });
  });
});
