import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller, type ControllerOptions } from '../src/index.js';
import { ROOT } from './helpers.js';

/*
 * The stock guest's seccomp filter, rule by rule: test/guest/probe-args.c runs under the supervisor
 * as the stock interpreter would and makes raw system calls with crafted arguments. Each wall
 * setting below leaves the filter in force; with namespaces off (and as root, keeping root) the
 * filter is all that keeps the guest from other processes.
 */
const PROBE = path.join(ROOT, 'build/test/probe-args');

/**
 * What each attempt must come to, in the order the probe makes them: 'ok' (it succeeded), '=N'
 * (it returned N), or the errno name it failed with. Refusals by the filter are EPERM (or the
 * errno of the call's rule); the others show the kernel (or the controller) saw the same
 * argument the filter judged: the low 32 bits of an int argument.
 */
const EXPECTED: [string, string][] = [
  // kill: the guest itself only, pid compared on all 64 bits
  ['kill(self,0)', 'ok'],
  ['kill(0,0)', 'EPERM'],
  ['kill(-1,0)', 'EPERM'],
  ['kill(-self,0)', 'EPERM'],
  ['kill(1,0)', 'EPERM'],
  ['kill(hi|self,0)', 'EPERM'],
  ['kill(hi|0,0)', 'EPERM'],
  ['kill(u32 -1,0)', 'EPERM'],
  ['kill(controller,USR2)', 'EPERM'],
  ['kill(hi|controller,USR2)', 'EPERM'],
  ['kill(victim,KILL)', 'EPERM'],
  ['kill(hi|victim,KILL)', 'EPERM'],
  ['kill(-victim,0)', 'EPERM'],
  ['tgkill(self,tid,0)', 'ok'],
  ['tgkill(hi|self,tid,0)', 'EPERM'],
  ['tgkill(-1,tid,0)', 'EPERM'],
  ['tgkill(controller,controller,USR2)', 'EPERM'],
  ['tgkill(hi|controller,controller,USR2)', 'EPERM'],
  ['tgkill(hi|victim,victim,KILL)', 'EPERM'],
  ['rt_sigqueueinfo(self,0)', 'ok'],
  ['rt_sigqueueinfo(0,0)', 'EPERM'],
  ['rt_sigqueueinfo(-1,0)', 'EPERM'],
  ['rt_sigqueueinfo(hi|self,0)', 'EPERM'],
  ['rt_sigqueueinfo(controller,USR2)', 'EPERM'],
  ['rt_sigqueueinfo(hi|controller,USR2)', 'EPERM'],
  ['rt_sigqueueinfo(hi|victim,KILL)', 'EPERM'],
  // prlimit64: itself (or 0), and reading only
  ['prlimit64(0,read)', 'ok'],
  ['prlimit64(self,read)', 'ok'],
  ['prlimit64(0,set)', 'EPERM'],
  ['prlimit64(self,set)', 'EPERM'],
  ['prlimit64(0,set hi|NULL)', 'EPERM'],
  ['prlimit64(hi|0,read)', 'EPERM'],
  ['prlimit64(hi|self,read)', 'EPERM'],
  ['prlimit64(-1,read)', 'EPERM'],
  ['prlimit64(1,read)', 'EPERM'],
  ['prlimit64(controller,read)', 'EPERM'],
  ['prlimit64(hi|controller,read)', 'EPERM'],
  ['setrlimit(NOFILE)', 'EPERM'],
  // clone: threads only, without new namespaces (EINVAL: the kernel's own answer, once let by)
  ['pthread_create', 'ok'],
  ['clone(SIGCHLD)', 'EPERM'],
  ['clone(VM|SIGHAND)', 'EPERM'],
  ['clone(hi|SIGCHLD)', 'EPERM'],
  ['clone(THREAD)', 'EINVAL'],
  ['clone(hi|THREAD)', 'EINVAL'],
  ['clone(THREAD|NEWNS)', 'EPERM'],
  ['clone(THREAD|NEWCGROUP)', 'EPERM'],
  ['clone(THREAD|NEWUTS)', 'EPERM'],
  ['clone(THREAD|NEWIPC)', 'EPERM'],
  ['clone(THREAD|NEWUSER)', 'EPERM'],
  ['clone(THREAD|NEWPID)', 'EPERM'],
  ['clone(THREAD|NEWNET)', 'EPERM'],
  ['clone3', 'ENOSYS'],
  // prctl: names and the dumpable flag's reading only (the option is an int)
  ['prctl(SET_NAME)', 'ok'],
  ['prctl(GET_NAME)', 'ok'],
  ['prctl(hi|GET_NAME)', 'ok'],
  ['prctl(GET_DUMPABLE)', 'ok'],
  ['prctl(SET_DUMPABLE)', 'EPERM'],
  ['prctl(hi|SET_DUMPABLE)', 'EPERM'],
  ['prctl(SET_PDEATHSIG)', 'EPERM'],
  ['prctl(SET_NO_NEW_PRIVS)', 'EPERM'],
  ['prctl(SET_SECCOMP)', 'EPERM'],
  ['prctl(SET_CHILD_SUBREAPER)', 'EPERM'],
  ['prctl(SET_PTRACER)', 'EPERM'],
  // descriptors: the low 32 bits name the descriptor, for the filter as for the kernel
  ['write(pipe)', '=1'],
  ['write(hi|pipe)', '=1'],
  ['read(hi|pipe)', '=2'],
  ['read(hi|pipe) got xy', '=0'],
  ['dup2(hi|pipe,511)', '=511'],
  ...fdCommands('511'),
  ['close(hi|511)', '=0'],
  ['fcntl(511) F_GETFD after close', 'EBADF'],
  // beyond 511 a real descriptor is judged by the supervisor, from the same table
  ['fcntl F_DUPFD 600', '=0'],
  ...fdCommands('>511'),
  ['fcntl hi|F_DUPFD 600', '=0'],
  ['sendmsg(509)', 'EBADF'],
  ['sendmsg(hi|509)', 'EBADF'],
  ['sendmsg(pipe)', 'EACCES'],
  ['mmap(anonymous)', 'ok'],
  ['mmap(memfd)', 'ok'],
  ['mmap(hi|memfd)', 'ok'],
  ['mmap(stdin)', 'ENODEV'],
  // refused by the table, and not listed at all
  ['execve', 'EPERM'],
  ['execveat', 'EPERM'],
  ['fork', 'EPERM'],
  ['socket', 'EACCES'],
  ['tkill(self)', 'EPERM'],
  ['setrlimit', 'ENOSYS'],
];

/** fcntl and ioctl on a real descriptor: flags and sizes run, locks, owners, O_ASYNC and terminals do not. */
function fdCommands(at: string): [string, string][] {
  return [
    [`fcntl(${at}) F_GETFL`, 'ok'],
    [`fcntl(${at}) F_SETFL O_NONBLOCK`, '=0'],
    [`fcntl(${at}) F_SETFL hi|O_NONBLOCK`, '=0'],
    [`fcntl(${at}) F_SETFL O_ASYNC`, 'EPERM'],
    [`fcntl(${at}) F_SETOWN`, 'EPERM'],
    [`fcntl(${at}) hi|F_SETOWN`, 'EPERM'],
    [`fcntl(${at}) F_SETLK`, 'EPERM'],
    [`fcntl(${at}) hi|F_GETFD`, 'ok'],
    [`fcntl(${at}) F_GETPIPE_SZ`, 'ok'],
    [`ioctl(${at}) FIONREAD`, '=0'],
    [`ioctl(${at}) hi|FIONREAD`, '=0'],
    [`ioctl(${at}) TCGETS`, 'ENOTTY'],
    [`ioctl(${at}) TIOCSTI`, 'ENOTTY'],
  ];
}

/** "NAME RESULT ERRNO" lines (names may hold spaces) as [name, outcome in EXPECTED's terms]. */
function outcomes(stdout: string): [string, string][] {
  return stdout
    .trim()
    .split('\n')
    .filter((l) => l !== 'done')
    .map((line) => {
      const m = /^(.*) (-?\d+) (\S+)$/.exec(line);
      if (!m) return [line, 'unparsed'];
      const [, name, ret, errno] = m;
      if (errno !== '-') return [name!, errno!];
      return [name!, EXPECTED.find(([n]) => n === name)?.[1] === 'ok' ? 'ok' : `=${ret}`];
    });
}

/** Whether a process runs (not ended, not a zombie waiting to be reaped). */
function running(child: ChildProcess): boolean {
  if (child.exitCode !== null || child.signalCode !== null) return false;
  try {
    const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    return !/^[ZX]$/.test(stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3));
  } catch {
    return false;
  }
}

const WALLS: [string, ControllerOptions['walls']][] = [
  ['default walls', undefined],
  ['namespaces off', { namespaces: false }],
  ['root kept', { dropRoot: false }],
  ['namespaces off and root kept: the filter alone', { namespaces: false, dropRoot: false }],
];

describe('the stock guest seccomp filter, probed with crafted arguments', () => {
  let victim: ChildProcess;
  let usr2 = 0;
  const countUsr2 = () => usr2++;

  beforeAll(() => {
    process.on('SIGUSR2', countUsr2);
    victim = spawn('sleep', ['600'], { stdio: 'ignore' });
  });

  afterAll(() => {
    process.off('SIGUSR2', countUsr2);
    victim.kill('SIGKILL');
  });

  it.each(WALLS)(
    '%s: every rule holds on all the bits the kernel reads, and no signal gets out',
    async (_label, walls) => {
      const r = await new Controller({
        python: PROBE,
        args: [String(process.pid), String(victim.pid)],
        timeout: 30_000,
        ...(walls ? { walls } : {}),
      }).run();
      expect(r.guestStderr).toBe('');
      expect(r).toMatchObject({ outcome: 'exited', exitCode: 0 });
      expect(r.stdout.toString().endsWith('done\n')).toBe(true);
      expect(outcomes(r.stdout.toString())).toEqual(EXPECTED);
      await new Promise((resolve) => setTimeout(resolve, 50)); // a signal sent is delivered by now
      expect(usr2).toBe(0);
      expect(running(victim)).toBe(true);
      if (walls?.namespaces === false) expect(r.walls).not.toContain('pid-ns');
    },
  );

  it('keeps a guest from raising its own CPU limit: the run ends reported as over its CPU limit', async () => {
    const code =
      'import resource\nsoft, hard = resource.getrlimit(resource.RLIMIT_CPU)\ntry:\n  resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))\n  print("raised", flush=True)\n' +
      'except ValueError as e:\n  print("refused:", e, flush=True)\nwhile True: pass';
    const r = await new Controller({
      python: 'python3',
      args: ['-c', code],
      timeout: 30_000,
      limits: { cpuSeconds: 1 },
    }).run();
    // CPython reports setrlimit's EPERM as a ValueError.
    expect(r.stdout.toString()).toBe('refused: not allowed to raise maximum limit\n');
    expect(r).toMatchObject({ outcome: 'limit', limit: { name: 'cpu', value: 1 } });
  });

  it('ends a guest that makes an x32 call (another ABI, other numbers) with SIGSYS', async () => {
    const r = await new Controller({ python: PROBE, args: ['x32'], timeout: 30_000 }).run();
    expect(r).toMatchObject({ outcome: 'signaled', signal: 'SIGSYS' });
    expect(r.stdout.toString()).toBe('');
  });
});

describe('the BPF assembler (bpf.h) the filters are built with', () => {
  it('resolves labels by scope, and refuses to link a jump it cannot make right', () => {
    const lines = execFileSync(path.join(ROOT, 'build/test/bpf-link'), { encoding: 'utf8' }).trim().split('\n');
    expect(lines).toEqual([
      // instruction index: jump-if-true / jump-if-false / constant, for every jump
      'jump over 255: linked 258 1:255/0/1',
      'jump over 256: conditional jump farther than 255 instructions: far',
      'eq64 without else: a two-step argument check without an else label',
      'int range without else: a two-step argument check without an else label',
      'unbound label: jump to a label never bound: nowhere',
      'label bound twice: label bound twice: twice',
      'jump backwards: jump backwards: top',
      'scoped labels: linked 5 0:0/1/0 2:0/1/1',
      'eq64: linked 6 1:0/2/0 3:1/0/5',
    ]);
  });
});
