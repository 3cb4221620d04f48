import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, GUEST, ROOT } from './helpers.js';

// The supervisor is reached through a link of its own, so that the processes of these runs are
// told from those of other tests by their command line.
let dir: string;
let supervisor: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-cli-start-'));
  supervisor = path.join(dir, 'pypy-box-supervisor');
  fs.symlinkSync(path.join(ROOT, 'build/native/pypy-box-supervisor'), supervisor);
  fs.symlinkSync(path.join(ROOT, 'build/native/libpypybox-wall.so'), path.join(dir, 'libpypybox-wall.so'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Command lines (as word lists) of the live processes started from the linked supervisor. */
function supervisors(): { pid: number; ppid: number; argv: string[] }[] {
  const out = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (argv[0] !== supervisor) continue;
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      out.push({ pid: Number(name), ppid, argv });
    } catch {
      /* gone */
    }
  }
  return out;
}

const env = { NO_COLOR: '1' };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pypy-box interact start-up', () => {
  it('runs the guest under a supervisor started while the command line was still read', async () => {
    // The guest waits for a line on its stdin: meanwhile its supervisor is looked at.
    const run = execa(
      process.execPath,
      [CLI, 'interact', GUEST, 'buf b 64', 'call read(ipi)i 0 b:b 64', 'text b r', 'call write(ipi)i 1 b:b 3'],
      { reject: false, env: { ...env, PYPY_BOX_SUPERVISOR: supervisor }, timeout: 30_000 },
    );
    let mine: ReturnType<typeof supervisors> = [];
    for (let k = 0; k < 200 && mine.length === 0; k++) {
      await sleep(25);
      mine = supervisors().filter((s) => s.ppid === run.pid);
    }
    expect(mine).toHaveLength(1);
    // Started as a spare (--standby), then given this run's arguments on its stdin.
    expect(mine[0]!.argv).toContain('--standby');
    run.stdin!.end('hey\n');
    const r = await run;
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('hey');
    expect(supervisors().filter((s) => s.ppid === run.pid)).toEqual([]);
  });

  it('gives the run the walls it asked for when they are not those of the waiting supervisor', async () => {
    const walls = async (flags: string[]) => {
      const r = await execa(
        process.execPath,
        [CLI, 'interact', '--verbose', ...flags, GUEST, 'call write(ipi)i 1 s:ok 2'],
        {
          reject: false,
          env: { ...env, PYPY_BOX_SUPERVISOR: supervisor },
          timeout: 30_000,
        },
      );
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toBe('ok');
      return /walls: (.*)/.exec(r.stderr)?.[1] ?? '';
    };
    // The waiting supervisor's child is in new namespaces; this run asked for none.
    expect(await walls([])).toMatch(/seccomp-strict.*-ns\b/);
    const none = await walls(['--no-namespaces']);
    expect(none).toContain('seccomp-strict');
    expect(none).not.toMatch(/-ns\b/);
  });

  it('leaves no supervisor behind when the command line turns out wrong after it was started', async () => {
    const before = new Set(supervisors().map((s) => s.pid));
    const r = await execa(process.execPath, [CLI, 'interact', '--env', 'NO_EQUALS_SIGN', GUEST, 'call getpid()i'], {
      reject: false,
      env: { ...env, PYPY_BOX_SUPERVISOR: supervisor },
      timeout: 30_000,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--env expects NAME=VALUE');
    // The spare sees its input end with the command and exits by itself, quietly.
    let left = supervisors().filter((s) => !before.has(s.pid));
    for (let k = 0; k < 100 && left.length > 0; k++) {
      await sleep(20);
      left = supervisors().filter((s) => !before.has(s.pid));
    }
    expect(left).toEqual([]);
  });

  it('exits as soon as everything is written: all of a large output arrives', async () => {
    const py = 'import sys\nfor i in range(200000): sys.stdout.write("%d\\n" % i)\n';
    const r = await execa(process.execPath, [CLI, 'interact', '-c', py], { reject: false, env, timeout: 60_000 });
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines).toHaveLength(200000);
    expect(lines[199999]).toBe('199999');
  });
});
