import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  closeSpareSupervisor,
  Controller,
  SandboxError,
  type ControllerOptions,
  type RunResult,
} from '../src/index.js';
import { SYSCALLS } from '../src/supervisor/contract/contract.js';
import { CLI, GUEST, ROOT } from './helpers.js';

const MIB = 1024 * 1024;

/** Stock pypy3 under the supervisor with only the walls a test names (seccomp is the supervisor itself). */
function py(code: string, opts: Partial<ControllerOptions> = {}): Promise<RunResult> {
  return new Controller({
    python: 'pypy3',
    args: ['-c', code],
    timeout: 60_000,
    walls: { namespaces: false, dropRoot: false },
    ...opts,
  }).run();
}

/** The directories under which runs' cgroups are made (cgroup.h): below this process's cgroup and at each root. */
function cgroupGroups(): string[] {
  const own = new Map<string, string>();
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').split('\n')) {
    const [id, controllers, p] = line.split(':');
    if (p === undefined) continue;
    if (id === '0' && controllers === '') own.set('', p);
    for (const c of controllers!.split(',')) own.set(c, p);
  }
  const mounts: [string, string][] = [
    ['/sys/fs/cgroup', ''],
    ['/sys/fs/cgroup/unified', ''],
    ['/sys/fs/cgroup/memory', 'memory'],
    ['/sys/fs/cgroup/pids', 'pids'],
  ];
  const dirs = mounts.flatMap(([m, c]) => [path.join(m, own.get(c) ?? '/', 'pypy-box'), path.join(m, 'pypy-box')]);
  return [...new Set(dirs)].filter((d) => fs.existsSync(d));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Run cgroups whose supervisor is gone: left behind. (Groups of runs still going, in other test files, are alive.) */
async function leftBehind(): Promise<string[]> {
  await closeSpareSupervisor(); // and every supervisor still tearing down
  return cgroupGroups().flatMap((g) =>
    fs
      .readdirSync(g, { withFileTypes: true })
      .filter((e) => e.isDirectory() && /^\d+$/.test(e.name) && !alive(Number(e.name)))
      .map((e) => path.join(g, e.name)),
  );
}

const MEMFD_BOMB = `
import os
fd = os.memfd_create("bomb")
chunk = b"x" * (1 << 20)
n = 0
try:
    for i in range(512):
        os.write(fd, chunk)
        n += 1
except OSError as e:
    print("refused", e.errno, n)
print("wrote", n)
`;

/** Whether this host lets a run have its own cgroup (as root with v1 or v2 memory and pids controllers). */
const probe = py('pass');
async function cgroupWall(): Promise<string | undefined> {
  return (await probe).walls.find((w) => w.startsWith('cgroup-'));
}

afterAll(async () => {
  await closeSpareSupervisor();
});

describe('memory cap', () => {
  it('a memfd filled past the cap ends the run with the memory limit (cgroup)', async (ctx) => {
    const wall = await cgroupWall();
    if (!wall) return ctx.skip();
    const r = await py(MEMFD_BOMB, {
      limits: { memoryBytes: 64 * MIB },
      walls: { namespaces: false, dropRoot: false, cgroup: true },
    });
    expect(r.walls).toContain(wall);
    expect(r.outcome).toBe('limit');
    expect(r.limit).toEqual({ name: 'memory', value: 64 * MIB });
    expect(r.stdout.toString()).not.toContain('wrote');
    expect(await leftBehind()).toEqual([]);
  });

  it('without a cgroup a memfd is refused with EFBIG at the cap (RLIMIT_FSIZE): the host keeps its memory', async () => {
    const walls = { namespaces: false, dropRoot: false, cgroup: false };
    const grow =
      'import os\nfd = os.memfd_create("big")\ntry:\n    os.ftruncate(fd, 128 << 20)\nexcept OSError as e:\n    print("refused", e.errno)\nprint(os.fstat(fd).st_size)';
    const g = await py(grow, { limits: { memoryBytes: 64 * MIB }, walls });
    expect(g.walls).toEqual(expect.arrayContaining(['rlimit-memory', 'memory-poll']));
    expect(g.walls.some((w) => w.startsWith('cgroup-'))).toBe(false);
    expect(g.stdout.toString()).toBe('refused 27\n0\n');
    // Written for real, the resident interpreter and the memfd may reach the polled cap first:
    // either way no more than the cap was written.
    const r = await py(MEMFD_BOMB, { limits: { memoryBytes: 64 * MIB }, walls });
    if (r.outcome === 'limit') expect(r.limit).toEqual({ name: 'memory', value: 64 * MIB });
    else expect(r.stdout.toString()).toBe('refused 27 64\nwrote 64\n');
  });

  it('without a cgroup many memfds together end the run at the cap (memfds are polled with resident memory)', async () => {
    const code = `
import os
chunk = b"x" * (1 << 20)
for k in range(40):
    fd = os.memfd_create("m%d" % k)
    for i in range(30):
        os.write(fd, chunk)
print("held", 40 * 30, "MiB")
`;
    const r = await py(code, {
      limits: { memoryBytes: 128 * MIB },
      walls: { namespaces: false, dropRoot: false, cgroup: false },
    });
    expect(r.outcome).toBe('limit');
    expect(r.limit).toEqual({ name: 'memory', value: 128 * MIB });
    expect(r.stdout.toString()).toBe('');
  });

  it("a stock guest's heap cap counts its memfds too: --heapsize 64m stops a 512 MiB memfd", async () => {
    const r = await py(MEMFD_BOMB, { limits: { heapBytes: 64 * MIB } });
    expect(r.outcome).toBe('limit');
    expect(r.limit).toEqual({ name: 'heap', value: 64 * MIB });
    expect(r.stdout.toString()).toBe('');
  });

  it('is on by default', async () => {
    const r = await probe;
    expect(r.outcome).toBe('exited');
    expect(r.walls.some((w) => w.startsWith('cgroup-') || w === 'rlimit-memory')).toBe(true);
    const g = await py(
      'import os\nfd = os.memfd_create("big")\ntry:\n    os.ftruncate(fd, 2 << 30)\nexcept OSError as e:\n    print("refused", e.errno)',
      { walls: { cgroup: false } },
    );
    expect(g.stdout.toString()).toBe('refused 27\n');
  });
});

describe('task cap', () => {
  const THREAD_BOMB = `
import threading
ev = threading.Event()
ts = []
try:
    for i in range(1000):
        t = threading.Thread(target=ev.wait)
        t.start()
        ts.append(t)
except RuntimeError as e:
    print("refused", len(ts))
ev.set()
for t in ts:
    t.join()
`;

  it('a thread bomb is refused at the cgroup task cap and reported in limitsReached', async (ctx) => {
    if (!(await cgroupWall())) return ctx.skip();
    const r = await py(THREAD_BOMB, {
      limits: { tasks: 20 },
      walls: { namespaces: false, dropRoot: false, cgroup: true },
    });
    expect(r.outcome).toBe('exited');
    const m = /^refused (\d+)\n$/.exec(r.stdout.toString());
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(20);
    expect(r.limitsReached).toContainEqual({ name: 'tasks', value: 20, calls: 1 });
    expect(await leftBehind()).toEqual([]);
  });

  it('without a cgroup a thread bomb is refused by RLIMIT_NPROC (unprivileged uid)', async () => {
    const r = await py(THREAD_BOMB, { limits: { tasks: 20 }, walls: { cgroup: false } });
    expect(r.outcome).toBe('exited');
    const m = /^refused (\d+)\n$/.exec(r.stdout.toString());
    expect(m).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(20);
  });

  // Root's own uid is exempt from RLIMIT_NPROC: kept (dropRoot: false) without a cgroup, only the
  // supervisor's count of the guest's threads holds the cap.
  it('without a cgroup, as root keeping uid 0, a thread bomb is refused at the task cap and reported', async (ctx) => {
    if (process.getuid?.() !== 0) return ctx.skip();
    const r = await py(THREAD_BOMB, {
      limits: { tasks: 20 },
      walls: { namespaces: false, dropRoot: false, cgroup: false },
    });
    expect(r.outcome).toBe('exited');
    const m = /^refused (\d+)\n$/.exec(r.stdout.toString());
    expect(m, r.stdout.toString()).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(20);
    expect(r.limitsReached).toContainEqual({ name: 'tasks', value: 20, calls: 1 });
  });
});

describe('open-file limit counts every descriptor', () => {
  it('pipe ends past maxOpenFiles are refused with EMFILE and reported', async () => {
    const code = `
import os
ends = []
try:
    while True:
        ends.extend(os.pipe())
except OSError as e:
    print("refused", e.errno, len(ends) + 3)
`;
    const r = await py(code, { limits: { openFiles: 10 } });
    expect(r.stdout.toString()).toBe('refused 24 9\n');
    expect(r.limitsReached).toContainEqual({ name: 'open-files', value: 10, calls: 1 });
  });

  it('memfds, eventfds, epoll, timerfd, signalfd, dups of real descriptors and virtual files all count', async () => {
    const code = `
import os, select, ctypes, fcntl
libc = ctypes.CDLL(None, use_errno=True)
mask = ctypes.create_string_buffer(8)
def syscall(nr, *args):
    r = libc.syscall(nr, *args)
    if r < 0:
        raise OSError(ctypes.get_errno(), "")
    return r
def count():
    n = 0
    for fd in range(1024):
        try:
            os.fstat(fd)
            n += 1
        except OSError:
            pass
    return n
r, w = os.pipe()
keep = []
try:
    while True:
        keep.append(syscall(290, 0, 0))  # eventfd2
except OSError as e:
    print("full", e.errno, count())
makers = [("memfd", lambda: os.memfd_create("b")), ("eventfd", lambda: syscall(290, 0, 0)),
          ("epoll", lambda: select.epoll()), ("timerfd", lambda: syscall(283, 1, 0)),
          ("signalfd", lambda: syscall(289, -1, mask, 8, 0)), ("pipe", os.pipe), ("dup", lambda: os.dup(r)),
          ("dup2", lambda: os.dup2(r, 300)), ("fcntl", lambda: fcntl.fcntl(r, fcntl.F_DUPFD, 0)),
          ("file", lambda: os.open("/tmp/new", os.O_CREAT | os.O_WRONLY)), ("dir", lambda: os.open("/", os.O_RDONLY))]
out = []
for name, make in makers:
    try:
        keep.append(make())
        out.append(name + " made")
    except OSError as e:
        out.append("%s %d" % (name, e.errno))
print(" ".join(out))
os.close(keep.pop())
keep.append(os.dup(r))
print("after a close", count())
`;
    // python3: PyPy 3.9's os.memfd_create reports a stale errno when it fails.
    const r = await py(code, { python: 'python3', limits: { openFiles: 20 } });
    expect(r.stdout.toString()).toBe(
      'full 24 20\nmemfd 24 eventfd 24 epoll 24 timerfd 24 signalfd 24 pipe 24 dup 24 dup2 24 fcntl 24 file 24 dir 24\nafter a close 20\n',
    );
    expect(r.limitsReached).toContainEqual({ name: 'open-files', value: 20, calls: 12 });
  });

  it('dups of real descriptors still work under the limit: natively, and onto a standard stream through the controller', async () => {
    const code =
      'import os\nr, w = os.pipe()\nos.write(w, b"hi there")\nc = os.dup(r)\nos.dup2(c, 40)\nos.dup2(40, 0)\nprint(os.read(0, 2), os.read(c, 3), os.read(40, 3))';
    const r = await py(code, { limits: { openFiles: 12 } });
    expect(r.stdout.toString()).toBe("b'hi' b' th' b'ere'\n");
    expect(r.limitsReached).toEqual([]);
  });

  it('descriptors of the controller and of the guest add up', async () => {
    const code = `
import os
files = [os.open("/tmp/f%d" % i, os.O_CREAT | os.O_WRONLY) for i in range(4)]
ends = []
try:
    while True:
        ends.append(os.memfd_create("m"))
except OSError as e:
    print("refused", e.errno, len(files) + len(ends) + 3)
`;
    const r = await py(code, { python: 'python3', limits: { openFiles: 12 } });
    expect(r.stdout.toString()).toBe('refused 24 12\n');
  });
});

describe('CPU limit', () => {
  it('a guest that ignores SIGXCPU and dies of SIGKILL at the hard limit is reported as limit cpu', async () => {
    const r = await py('import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\nwhile True: pass', {
      limits: { cpuSeconds: 1 },
    });
    expect(r.outcome).toBe('limit');
    expect(r.limit).toEqual({ name: 'cpu', value: 1 });
  });
});

describe('the run cgroup', () => {
  it('is left behind by no run: normal end, timeout, abort, limit', async (ctx) => {
    if (!(await cgroupWall())) return ctx.skip();
    const walls = { cgroup: true };
    expect((await py('print(1)', { walls, spareSupervisor: false })).outcome).toBe('exited');
    expect(await leftBehind()).toEqual([]);
    expect((await py('while True: pass', { walls, timeout: 1500 })).outcome).toBe('timeout');
    expect(await leftBehind()).toEqual([]);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 1500);
    await expect(py('import time\ntime.sleep(60)', { walls, signal: abort.signal })).rejects.toBeInstanceOf(
      SandboxError,
    );
    expect(await leftBehind()).toEqual([]);
    // From the spare supervisor too (its child joined the group before the run was known).
    for (let i = 0; i < 3; i++)
      expect((await py(MEMFD_BOMB, { walls, limits: { memoryBytes: 48 * MIB } })).limit?.name).toBe('memory');
    expect(await leftBehind()).toEqual([]);
  });

  it('is removed when the controller process itself is killed outright', async (ctx) => {
    if (!(await cgroupWall())) return ctx.skip();
    const runDirs = () =>
      new Set(
        cgroupGroups().flatMap((g) =>
          fs
            .readdirSync(g)
            .filter((n) => /^\d+$/.test(n))
            .map((n) => path.join(g, n)),
        ),
      );
    const before = runDirs();
    const script = `
import { Controller } from ${JSON.stringify(path.join(ROOT, 'dist/src/index.js'))};
await new Controller({ python: 'pypy3', args: ['-c', 'import time\\nprint("up", flush=True)\\ntime.sleep(60)'], stdout: (b) => process.stdout.write(b), walls: { cgroup: true }, spareSupervisor: false }).run();
`;
    const controller = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false });
    await new Promise<void>((resolve) =>
      controller.stdout!.on('data', (b: Buffer) => b.toString().includes('up') && resolve()),
    );
    // Its supervisor's group (other test files may be making groups of their own meanwhile).
    const parentOf = (pid: number) => {
      try {
        return Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      } catch {
        return -1; // gone meanwhile: not ours, ours is still running
      }
    };
    const mine = [...runDirs()].filter((d) => !before.has(d) && parentOf(Number(path.basename(d))) === controller.pid);
    expect(mine.length).toBeGreaterThan(0);
    controller.kill('SIGKILL');
    await controller;
    const supervisor = Number(path.basename(mine[0]!));
    for (let i = 0; i < 100 && alive(supervisor); i++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(supervisor)).toBe(false);
    expect(mine.filter((d) => fs.existsSync(d))).toEqual([]);
  });

  it('holds a sandboxed PyPy (protocol guest) too', async (ctx) => {
    const wall = await cgroupWall();
    if (!wall) return ctx.skip();
    const r = await new Controller({ executable: GUEST, args: ['call getpid()i'], walls: { cgroup: true } }).run();
    expect(r.outcome).toBe('exited');
    expect(r.walls).toContain(wall);
    expect(await leftBehind()).toEqual([]);
  });

  it('asked for and impossible (an unprivileged controller): the run does not start and says why', async () => {
    const script = `
import { Controller } from ${JSON.stringify(path.join(ROOT, 'dist/src/index.js'))};
try {
  const r = await new Controller({ python: 'pypy3', args: ['-c', 'print(1)'], walls: { cgroup: true }, spareSupervisor: false }).run();
  console.log('RAN', r.outcome, r.stdout.toString().trim());
} catch (e) {
  console.log('REFUSED', e.kind, e.message);
}
`;
    const run = await execa(process.execPath, ['--input-type=module', '-e', script], {
      uid: 65534,
      gid: 65534,
      reject: false,
      cwd: '/',
    });
    expect(run.stdout).toMatch(/^REFUSED spawn .*the cgroup wall could not be set up \(no writable cgroup/);
    expect(run.stdout).not.toContain('RAN');
  });
});

describe('defaults', () => {
  it('pypy-box interact --help shows the default limits', async () => {
    const h = await execa(process.execPath, [CLI, 'interact', '--help'], { reject: false });
    expect(h.stdout).toMatch(/--memory .*\(default 1g\)/);
    expect(h.stdout).toMatch(/--max-tasks .*\(default 256\)/);
    expect(h.stdout).toMatch(/--max-open-files .*\(default 256\)/);
    expect(h.stdout).toMatch(/--output-limit .*\(default 64m\)/);
    expect(h.stdout).toMatch(/--cgroup/);
  });

  it('pypy-box interact --memory ends a memfd bomb with exit code 125 and names the limit', async () => {
    const r = await execa(process.execPath, [CLI, 'interact', '--memory', '48m', '-c', MEMFD_BOMB], {
      reject: false,
      env: { NO_COLOR: '1' },
      timeout: 60_000,
    });
    if (r.exitCode === 125) expect(r.stderr).toMatch(/limit: guest stopped by the memory limit \(50331648\)/);
    else expect(r.stdout).toBe('refused 27 48\nwrote 48\n'); // no cgroup on this host: the fallback's EFBIG
  });
});

describe('the fate table (the contract) and the descriptor makers (syscalls.c)', () => {
  const header = fs.readFileSync(path.join(ROOT, 'src/supervisor/native/syscalls.c'), 'utf8');
  const rows = SYSCALLS;
  const makers = [...header.matchAll(/\{SYS_(\w+), \d+, MAKES_\w+\}/g)].map((m) => m[1]!);

  it('lists every call once', () => {
    const seen = new Map<string, number>();
    for (const r of rows) seen.set(r.name, (seen.get(r.name) ?? 0) + 1);
    expect([...seen].filter(([, n]) => n > 1)).toEqual([]);
  });

  it('lets no call that makes a descriptor run past the supervisor', () => {
    expect(makers.length).toBeGreaterThan(10);
    for (const name of makers) {
      const row = rows.find((r) => r.name === name);
      // Seen by the supervisor: forwarded, descriptor calls it decides (FD, DUP), or counted first (NEWFD).
      const seen = row && (row.fate === 'FWD' || row.fate === 'FD' || row.fate === 'DUP' || row.fate === 'NEWFD');
      expect({ name, seen }).toEqual({ name, seen: true });
    }
  });
});
