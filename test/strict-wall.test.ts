import { execa } from 'execa';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller, Errno, SandboxError, type ControllerOptions } from '../src/index.js';
import { supervisorPath } from '../src/supervisor/locate.js';
import { CLI, ROOT, withSupervisor } from './helpers.js';

// The strict wall of a guest that speaks the protocol itself: put up by the supervisor before
// execve, whatever the binary (see src/supervisor/native/strict.h).

const BUILDS = path.join(ROOT, 'build/pypy-sandbox');
const PYPYS = [
  { name: 'PyPy 2.7', dir: path.join(BUILDS, 'pypy2.7-sandbox'), binary: 'pypy-c' },
  { name: 'PyPy 3.6', dir: path.join(BUILDS, 'pypy3.6-sandbox'), binary: 'pypy3-c' },
];
const havePyPys = PYPYS.every((p) => fs.existsSync(path.join(p.dir, p.binary)));
if (!havePyPys)
  console.warn(
    `strict-wall tests: ${BUILDS} is missing (the archives of ../shared/pypy-sandbox, or PYPY_BOX_SANDBOX_ARCHIVES): the real sandboxed PyPy tests are skipped`,
  );

describe.skipIf(!havePyPys)('real sandboxed PyPy builds behind the default walls', () => {
  for (const p of PYPYS) {
    const run = (code: string) =>
      new Controller({
        executable: path.join(p.dir, p.binary),
        libPath: p.dir,
        args: ['-S', '-c', code],
        spareSupervisor: false,
        timeout: 60_000,
      }).run();

    it(`${p.name} prints 42 and exits 0, with the strict wall in force`, async () => {
      const r = await run('print(6*7)');
      expect(r).toMatchObject({ outcome: 'exited', exitCode: 0, signal: null });
      expect(r.stdout.toString()).toBe('42\n');
      expect(r.walls).toEqual(expect.arrayContaining(['seccomp-strict', 'no-new-privs', 'rlimits']));
    });

    it(`${p.name} imports from its library`, async () => {
      const r = await run('import json; print(json.dumps({"answer": 6*7}))');
      expect(r).toMatchObject({ outcome: 'exited', exitCode: 0 });
      expect(r.stdout.toString()).toBe('{"answer": 42}\n');
    });
  }

  it("PyPy 3.6 copied with mode 0711 and the setuid bit (unreadable to the guest's user) runs behind the strict wall", async () => {
    const p = PYPYS[1]!;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-0711-'));
    try {
      fs.chmodSync(dir, 0o755);
      fs.copyFileSync(path.join(p.dir, p.binary), path.join(dir, p.binary));
      fs.copyFileSync(path.join(p.dir, 'libpypy3-c.so'), path.join(dir, 'libpypy3-c.so')); // beside it: $ORIGIN
      fs.chmodSync(path.join(dir, p.binary), 0o4711);
      const r = await new Controller({
        executable: path.join(dir, p.binary),
        libPath: p.dir,
        args: ['-S', '-c', 'print(6*7)'],
        spareSupervisor: false,
        timeout: 60_000,
      }).run();
      expect(r).toMatchObject({ outcome: 'exited', exitCode: 0 });
      expect(r.stdout.toString()).toBe('42\n');
      expect(r.walls).toEqual(expect.arrayContaining(['seccomp-strict', 'no-new-privs']));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** One line per attack of test/guest/attacker.c. */
const ATTACKS = [
  'open-passwd',
  'open-passwd-legacy',
  'create-file',
  'open-library-for-writing',
  'open-planted-link',
  'open-planted-fifo',
  'socket',
  'kill-init',
  'kill-upper-bits',
  'tgkill-init',
  'tgkill-upper-bits',
  'execve-sh',
  'execveat-sh',
  'ptrace-traceme',
  'ptrace-attach-init',
  'write-fd3',
  'write-upper-bits',
  'read-upper-bits',
  'readlink-other',
  'stat-passwd',
  'listener-of-its-own',
  'i386-open-passwd',
  'fork',
  'prlimit-raise',
  'prlimit-raise-upper-bits',
  'prlimit-of-init',
  'prlimit-upper-bits',
  'sendmsg-stdout',
  'sendmsg-handoff-upper-bits',
  'read-beyond-handed-fds',
  'fstat-stdin',
  'seccomp-tsync',
  'seccomp-strict-mode',
];
/** Calls with the same kind of arguments that the wall allows: they succeed. */
const ALLOWED = ['tgkill-self', 'prlimit-read', 'read-stdin-nothing', 'write-stderr-nothing'];
/** The last line: a library opened read-only, which only the loader's window gives. */
const WINDOW_PROBE = 'open-library';
const REFUSALS = [Errno.EPERM, Errno.EACCES, Errno.ENOSYS];

describe('the strict wall against a compromised interpreter', () => {
  let bin: string; // the attacker's copies, with their modes, and names planted beside them
  let target: string; // a directory anyone may write to: the attacker's file would land there
  beforeAll(() => {
    bin = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-attackers-'));
    fs.chmodSync(bin, 0o755);
    target = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-target-'));
    fs.chmodSync(target, 0o777);
    const copies = [
      ['attacker', 'attacker', 0o755],
      ['attacker-static', 'attacker-static', 0o755],
      ['attacker', 'attacker-0711', 0o711],
      ['attacker', 'attacker-setuid', 0o4755],
      ['attacker-static', 'attacker-static-0711', 0o711],
    ] as const;
    for (const [from, to, mode] of copies) {
      const src = path.join(ROOT, 'build/test', from);
      if (!fs.existsSync(src)) continue;
      fs.copyFileSync(src, path.join(bin, to));
      fs.chmodSync(path.join(bin, to), mode);
    }
    // Names the loader's window takes for libraries of the program's own directory, leading elsewhere.
    fs.symlinkSync('/etc/passwd', path.join(bin, 'evil.so'));
    execFileSync('mkfifo', [path.join(bin, 'fifo.so')]);
  });
  afterAll(() => {
    fs.rmSync(bin, { recursive: true, force: true });
    fs.rmSync(target, { recursive: true, force: true });
  });

  const where = (name: string) => path.join(bin, name);
  const WALL_ALONE: ControllerOptions['walls'] = { namespaces: false, dropRoot: false };
  const cases: [string, ControllerOptions['walls'], string][] = [
    ['attacker', WALL_ALONE, 'dynamic'],
    ['attacker-static', WALL_ALONE, 'static'],
    ['attacker-0711', WALL_ALONE, 'dynamic, mode 0711'],
    ['attacker-static-0711', WALL_ALONE, 'static, mode 0711'],
    ['attacker-setuid', WALL_ALONE, 'dynamic, setuid root'],
    // As the run's own unprivileged uid, mode 0711 makes the binary unreadable to the guest's user, and setuid would matter.
    ['attacker-0711', undefined, 'dynamic, mode 0711, default walls'],
    ['attacker-setuid', undefined, 'dynamic, setuid root, default walls'],
  ];

  for (const [name, walls, label] of cases) {
    it(`refuses every attempt with an errno and the program goes on (${label})`, async (ctx) => {
      if (!fs.existsSync(where(name))) ctx.skip(); // no static C library to build it with
      const created = path.join(target, `${name}-${label.replace(/\W+/g, '-')}`);
      const args = [created, path.join(bin, 'evil.so'), path.join(bin, 'fifo.so')];
      const r = await new Controller({
        executable: where(name),
        args,
        ...(walls ? { walls } : {}),
        spareSupervisor: false,
        timeout: 30_000,
      }).run();
      expect(r).toMatchObject({ outcome: 'exited', exitCode: 0 });
      expect(r.walls).toContain('seccomp-strict');
      const lines = r.guestStderr.split('\n').filter((l) => l.startsWith('ATTACK '));
      expect(lines.map((l) => l.split(' ')[1])).toEqual([...ATTACKS, WINDOW_PROBE]);
      lines.pop();
      for (const line of lines) {
        if (line === 'ATTACK i386-open-passwd unavailable') continue; // a kernel without 32-bit calls
        const m = /^ATTACK (\S+) ret=(-?\d+) errno=(\d+)$/.exec(line);
        expect(m, line).not.toBeNull();
        expect([m![1], m![2]]).toEqual([m![1], '-1']);
        expect(REFUSALS, line).toContain(Number(m![3]));
      }
      const ok = r.guestStderr.split('\n').filter((l) => l.startsWith('ALLOWED '));
      expect(ok).toEqual(ALLOWED.map((name) => `ALLOWED ${name} ret=0 errno=0`));
      expect(r.guestStderr).toContain('DONE\n');
      expect(r.guestStderr).not.toContain('escaped');
      expect(fs.existsSync(created)).toBe(false);
    });
  }

  it("closes the loader's window once a dynamic program's main runs; a static one keeps it, for read-only libraries", async (ctx) => {
    const probe = async (name: string) => {
      const r = await new Controller({
        executable: where(name),
        args: [path.join(target, 'x')],
        walls: WALL_ALONE,
        spareSupervisor: false,
      }).run();
      return /^ATTACK open-library ret=(-?\d+) errno=(\d+)$/m.exec(r.guestStderr)!.slice(1).map(Number);
    };
    expect(await probe('attacker')).toEqual([-1, Errno.EACCES]); // refused by the preload's filter
    if (!fs.existsSync(where('attacker-static'))) ctx.skip();
    const [fd] = await probe('attacker-static');
    expect(fd).toBeGreaterThanOrEqual(3);
  });
});

describe('a strict wall that cannot be set up stops the run', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-nowall-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the supervisor notes why, exits 127 and never starts the program', async () => {
    // Three descriptors at most: no room for the filter's listener, so seccomp() fails (EMFILE).
    const wall = path.join(path.dirname(supervisorPath()), 'libpypybox-wall.so');
    const r = await execa(
      supervisorPath(),
      [
        '--protocol-guest',
        '--wall',
        wall,
        '--no-namespaces',
        '--keep-uid',
        '--nofile',
        '3',
        '--',
        path.join(ROOT, 'build/test/attacker'),
        'attacker',
      ],
      {
        stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
        reject: false,
        encoding: 'utf8',
      },
    );
    expect(r.exitCode).toBe(127);
    expect(r.stdio[3]).toMatch(new RegExp(`^wall-failed seccomp-strict .+ ${Errno.EMFILE}$`, 'm'));
    expect(r.stdio[3]).not.toMatch(/^walls /m);
    expect(r.stderr).not.toContain('ATTACK');
  });

  /**
   * A supervisor that always runs its guest with --nofile 3 (the controller passes 16 or more). It
   * refuses to be a spare (`--standby`, as the command line starts one ahead of its run): a spare's
   * arguments come on its stdin, out of this wrapper's reach, so the run starts a fresh one.
   */
  function cramped(): string {
    const wrapper = path.join(dir, 'pypy-box-supervisor');
    const script = [
      '#!/bin/bash',
      '[ "$1" = --standby ] && exit 1',
      'args=(); prev=',
      'for a in "$@"; do [ "$prev" = --nofile ] && a=3; args+=("$a"); prev=$a; done',
      `exec ${supervisorPath()} "\${args[@]}"`,
      '',
    ];
    fs.writeFileSync(wrapper, script.join('\n'), { mode: 0o755 });
    if (!fs.existsSync(path.join(dir, 'libpypybox-wall.so')))
      fs.symlinkSync(
        path.join(path.dirname(supervisorPath()), 'libpypybox-wall.so'),
        path.join(dir, 'libpypybox-wall.so'),
      );
    return wrapper;
  }

  it('the controller rejects with a spawn error that names the wall', async () => {
    const attempt = (walls: ControllerOptions['walls']) =>
      withSupervisor(cramped(), () =>
        new Controller({
          executable: path.join(ROOT, 'build/test/attacker'),
          args: [path.join(dir, 'x')],
          walls,
          spareSupervisor: false,
        })
          .run()
          .catch((e: unknown) => e),
      );
    const err = await attempt({ namespaces: false });
    expect(err).toBeInstanceOf(SandboxError);
    const e = err as SandboxError;
    expect(e.kind).toBe('spawn');
    expect(e.message).toMatch(/the seccomp-strict wall could not be set up \(Too many open files\)/);
    expect(e.result.walls).not.toContain('seccomp-strict');
    expect(e.result.guestStderr).not.toContain('ATTACK');
    // With the namespaces, the PID namespace's pipe finds no room either: the run stops before.
    const early = (await attempt(undefined)) as SandboxError;
    expect(early).toBeInstanceOf(SandboxError);
    expect(early.kind).toBe('spawn');
    expect(early.message).toMatch(/the isolation wall could not be set up/);
    expect(early.result.guestStderr).not.toContain('ATTACK');
  });

  it('the command line exits 127 and says so', async () => {
    const r = await execa(
      process.execPath,
      [CLI, 'interact', '--no-namespaces', path.join(ROOT, 'build/test/attacker'), path.join(dir, 'y')],
      {
        env: { PYPY_BOX_SUPERVISOR: cramped(), NO_COLOR: '1' },
        reject: false,
      },
    );
    expect(r.exitCode).toBe(127);
    expect(r.stderr).toMatch(/seccomp-strict wall could not be set up/);
    expect(r.stderr).not.toContain('ATTACK');
  });

  it('without its library, the controller refuses to start rather than run without the wall', async () => {
    const bare = fs.mkdtempSync(path.join(dir, 'bare-'));
    fs.symlinkSync(supervisorPath(), path.join(bare, 'pypy-box-supervisor'));
    const err = await withSupervisor(path.join(bare, 'pypy-box-supervisor'), () =>
      new Controller({ executable: path.join(ROOT, 'build/test/attacker'), spareSupervisor: false })
        .run()
        .catch((e: unknown) => e),
    );
    expect(err).toBeInstanceOf(SandboxError);
    expect((err as SandboxError).kind).toBe('spawn');
    expect((err as SandboxError).message).toMatch(/seccomp-strict wall cannot be set up/);
  });
});

describe('the capability dump', () => {
  it('runs the binary behind the strict wall too (pypy-box check)', async () => {
    // The attacker's default target: it would create this file if check ran it bare.
    const created = '/tmp/pypy-box-attacker';
    fs.rmSync(created, { force: true });
    const r = await execa(process.execPath, [CLI, 'check', path.join(ROOT, 'build/test/attacker')], {
      env: { NO_COLOR: '1' },
      reject: false,
    });
    // 3: not a sandboxed PyPy (the documented code for a binary without a capability dump).
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/printed no sandbox capability dump/);
    expect(fs.existsSync(created)).toBe(false);
  });
});
