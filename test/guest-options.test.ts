import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Controller } from '../src/index.js';
import { CLI, ROOT } from './helpers.js';

// Options one kind of guest cannot honour are refused before the run, naming the option.

const PYPY36 = path.join(ROOT, 'build/pypy-sandbox/pypy3.6-sandbox');
const havePyPy = fs.existsSync(path.join(PYPY36, 'pypy3-c'));

describe('options a stock interpreter cannot honour', () => {
  it.each([
    [
      'clock',
      { clock: { fixed: '2020-01-01T00:00:00Z' } },
      /^option clock: a stock interpreter reads the time from the kernel/,
    ],
    [
      'identity.pid',
      { identity: { pid: 77 } },
      /^option identity\.pid: a stock interpreter gets its process ids from the kernel/,
    ],
    ['identity.ppid', { identity: { ppid: 76 } }, /^option identity\.ppid: /],
    ['argv0', { argv0: '/opt/pypy' }, /^option argv0: a stock interpreter runs as its own path/],
    ['libPath', { libPath: PYPY36 }, /^option libPath: a stock interpreter uses its own installed library/],
    ['unknownCalls', { unknownCalls: 'fail' as const }, /^option unknownCalls: .*'fail' cannot apply/],
    [
      'handlers',
      { handlers: { 'll_os.ll_os_getpid()i': () => 1 } },
      /^option handlers\['ll_os\.ll_os_getpid\(\)i'\]: a stock interpreter never makes this call/,
    ],
  ])('%s is refused before start', (_name, opts, message) => {
    expect(() => new Controller({ python: 'python3', args: ['-c', 'pass'], ...opts })).toThrow(message);
  });

  it('what it can honour is accepted: the real clock, uid and hostname, its own handlers', () => {
    expect(
      () =>
        new Controller({
          python: 'python3',
          clock: 'real',
          identity: { uid: 5, hostname: 'box' },
          handlers: { 'getuid()i': () => 7 },
        }),
    ).not.toThrow();
  });

  it('the CLI says which flag: --clock with a stock interpreter is a usage error (exit 2)', async () => {
    const r = await execa(process.execPath, [CLI, 'interact', '--clock', '2020-01-01', '-c', 'pass'], {
      reject: false,
      env: { NO_COLOR: '1' },
      timeout: 30_000,
    });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^pypy-box: --clock: a stock interpreter reads the time from the kernel/);
  });

  it('a sandboxed PyPy without walls has no supervisor answering for it: localAnswers: true is refused', () => {
    expect(() => new Controller({ executable: '/bin/true', walls: false, localAnswers: true })).toThrow(
      /^option localAnswers: a sandboxed PyPy without walls/,
    );
  });
});

describe.skipIf(!havePyPy)('the same options work for a sandboxed PyPy', () => {
  it('a fixed clock and a pid reach the guest', async () => {
    const fixed = Date.parse('2020-01-01T00:00:00Z') / 1000;
    const r = await new Controller({
      executable: path.join(PYPY36, 'pypy3-c'),
      libPath: PYPY36,
      args: ['-S', '-c', 'import os, sys, time; print(int(time.time()), os.getpid())'],
      clock: { fixed: '2020-01-01T00:00:00Z' },
      identity: { pid: 77 },
      spareSupervisor: false,
      timeout: 60_000,
    }).run();
    expect(r).toMatchObject({ outcome: 'exited', exitCode: 0 });
    const [t, pid] = r.stdout.toString().trim().split(' ').map(Number);
    // The virtual clock starts at the date and advances with real time.
    expect(t).toBeGreaterThanOrEqual(fixed);
    expect(t).toBeLessThan(fixed + 60);
    expect(pid).toBe(77);
  });

  it('the CLI runs it with --clock', async () => {
    const r = await execa(
      process.execPath,
      [
        CLI,
        'interact',
        '--clock',
        '2020-01-01T00:00:00Z',
        '--lib-path',
        PYPY36,
        path.join(PYPY36, 'pypy3-c'),
        '-S',
        '-c',
        'import time; print(time.gmtime().tm_year)',
      ],
      { reject: false, env: { NO_COLOR: '1' }, timeout: 60_000 },
    );
    expect(r.stdout.trim()).toBe('2020');
    expect(r.exitCode).toBe(0);
  });
});
