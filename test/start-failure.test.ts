import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Controller } from '../src/index.js';
import { supervisorPath } from '../src/supervisor/locate.js';
import { parseNote } from '../src/supervisor/notes.js';
import { CLI, refusedRun, ROOT, withSupervisor } from './helpers.js';

/**
 * An interpreter root can run but the guest's unprivileged uid cannot: a copy of python3 in a
 * directory closed to everyone but root. Its exec fails in the supervisor's child, after the
 * walls are up, where a failure used to end the run as `exited 127` without a word.
 */
function unreachableInterpreter(dirName = 'root-only'): string {
  const dir = path.join(ROOT, 'build/test', dirName);
  const file = path.join(dir, 'python3');
  const source = fs.realpathSync('/usr/bin/python3');
  fs.mkdirSync(dir, { recursive: true });
  // Copied once: a new copy is a new interpreter to profile (its libraries, its standard library).
  if (fs.statSync(file, { throwIfNoEntry: false })?.size !== fs.statSync(source).size) fs.copyFileSync(source, file);
  fs.chmodSync(file, 0o755);
  fs.chmodSync(dir, 0o700);
  return file;
}

describe('the start-failed note', () => {
  it('carries what failed and its errno (0: none); anything else is malformed', () => {
    expect(
      parseNote(
        "start-failed the guest's child: fork of the PID namespace's init: Resource temporarily unavailable 11",
      ),
    ).toEqual({
      kind: 'start-failed',
      reason: "the guest's child: fork of the PID namespace's init: Resource temporarily unavailable",
      errno: 11,
    });
    expect(
      parseNote('start-failed no free uid: all 1 of 7..7 are in use by other runs (lock file /l) 0'),
    ).toMatchObject({ errno: 0 });
    for (const bad of [
      'start-failed',
      'start-failed 11',
      'start-failed why',
      'start-failed why 99999',
      'start-failed caf\u00e9 2',
    ]) {
      expect(() => parseNote(bad), bad).toThrow(/malformed note/);
    }
  });
});

describe.runIf(process.getuid?.() === 0)('a run that cannot start', () => {
  afterAll(closeSpareSupervisor);

  it('says what failed and the errno, from a fresh supervisor and from the spare', async () => {
    const python = unreachableInterpreter();
    await closeSpareSupervisor();
    // The first run starts a fresh supervisor; from the second on the spare's waiting child serves.
    for (let k = 0; k < 3; k++) {
      const err = await refusedRun({ python, args: ['-c', 'print(1)'], timeout: 30_000 });
      expect(err.kind).toBe('spawn');
      expect(err.message).toBe(
        `cannot start ${python}: the guest's child: exec of ${python}: Permission denied (EACCES)`,
      );
      expect(err.result.outcome).toBe('killed');
      expect(err.result.exitCode).toBeNull();
    }
  });

  it('says so in one line of printable ASCII, whatever bytes the path has', async () => {
    const python = unreachableInterpreter('root-only-caf\u00e9');
    const err = await refusedRun({ python, args: ['-c', 'print(1)'], spareSupervisor: false, timeout: 30_000 });
    expect(err.kind).toBe('spawn');
    expect(err.message).toBe(
      `cannot start ${python}: the guest's child: exec of ${python.replace('\u00e9', '??')}: Permission denied (EACCES)`,
    );
  });

  it("is told by the supervisor on its notes: the child's failure first, then its own view", async () => {
    // A process limit of 1 for the run's uid: the child cannot fork its PID namespace's init.
    const sup = spawn(supervisorPath(), ['--nproc', '1', '--', '/usr/bin/python3', 'python3', '-c', 'print(1)'], {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    let notes = '';
    let stderr = '';
    sup.stdio[3]!.on('data', (b: Buffer) => (notes += b.toString()));
    sup.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => sup.on('close', resolve));
    expect(code).toBe(127);
    expect(stderr).toBe('');
    expect(notes.split('\n').filter((l) => l.startsWith('start-failed'))).toEqual([
      "start-failed the guest's child: fork of the PID namespace's init: Resource temporarily unavailable 11",
      "start-failed the guest's child ended (exit status 127) before handing over its seccomp listener 0",
    ]);
  });
});

describe.runIf(process.getuid?.() === 0)('a supervisor that ends before its guest starts', () => {
  afterAll(closeSpareSupervisor);
  const dir = fs.mkdtempSync(path.join(ROOT, 'build/test/early-end-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  // The wall library beside it, as beside the real one (the command line checks for it).
  fs.symlinkSync(path.join(path.dirname(supervisorPath()), 'libpypybox-wall.so'), path.join(dir, 'libpypybox-wall.so'));

  /** A stand-in for the supervisor: a script that ends as `body` says, without starting anything. */
  function endingSupervisor(name: string, body: string): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, `#!/bin/bash\n${body}\n`, { mode: 0o755 });
    return file;
  }

  it('is a start failure that says how it ended, not the guest exiting with its status', async () => {
    for (const [body, how] of [
      ['exit 3', 'exit status 3'],
      ['kill -9 $$', 'killed by SIGKILL'],
    ]) {
      const file = endingSupervisor(`ends-${how.replace(/ /g, '-')}`, body);
      const err = await withSupervisor(file, () =>
        refusedRun({ python: '/usr/bin/python3', args: ['-c', 'print(1)'], spareSupervisor: false }),
      );
      expect(err.kind).toBe('spawn');
      expect(err.message).toBe(
        `cannot start ${fs.realpathSync('/usr/bin/python3')}: the supervisor ended (${how}) before starting the guest`,
      );
      expect(err.result.walls).toEqual([]);
    }
  });

  it('makes the command line exit 127 and say so', async () => {
    const file = endingSupervisor('ends-cli', 'exit 1');
    const r = await execa(process.execPath, [CLI, 'interact', '--python', '/usr/bin/python3', '-c', 'print(1)'], {
      env: { PYPY_BOX_SUPERVISOR: file, NO_COLOR: '1' },
      reject: false,
    });
    expect(r.exitCode).toBe(127);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('the supervisor ended (exit status 1) before starting the guest');
  });

  it('when it is the spare, killed while idle, is not used: the run starts a fresh supervisor', async () => {
    await closeSpareSupervisor();
    const run = () => new Controller({ python: '/usr/bin/python3', args: ['-c', 'print(42)'] }).run();
    await run();
    await run(); // from the second supervised run on, a spare is kept
    const spare = await waitFor(() => spareOf(process.pid));
    process.kill(spare, 'SIGKILL');
    // Dead but not yet reaped: Node has not run its event loop since, so it does not know.
    const deadline = Date.now() + 2000;
    while (!isZombie(spare) && Date.now() < deadline) {
      /* spin: no event-loop turn may happen before the run takes the spare */
    }
    expect(isZombie(spare)).toBe(true);
    const r = await run();
    expect(r.stdout.toString()).toBe('42\n');
    expect(r.exitCode).toBe(0);
    expect(r.walls).toContain('seccomp-user-notify');
  });
});

/** The pid of the idle spare supervisor (`--standby`) started by process `parent`, if any. */
function spareOf(parent: number): number | undefined {
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0');
      if (ppid === parent && cmdline.includes('--standby') && !isZombie(Number(name))) return Number(name);
    } catch {
      // ended meanwhile
    }
  }
  return undefined;
}

function isZombie(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat[stat.lastIndexOf(')') + 2] === 'Z';
  } catch {
    return false;
  }
}

async function waitFor<T>(probe: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
