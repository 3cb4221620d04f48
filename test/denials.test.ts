import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Controller, type RunResult } from '../src/index.js';
import { MAX_DENIED_KEPT } from '../src/controller/dispatch/denials.js';
import { parseNote } from '../src/supervisor/notes.js';
import { findInterpreter } from '../src/guest/profile.js';
import { CLI } from './helpers.js';

const EACCES = 13;
const EPERM = 1;

/** Asks for the network, a new program, a signal to pid 1 and /etc/shadow; prints the errno of each. */
const HOSTILE = `
import os, socket, subprocess
def attempt(name, f):
    try:
        f()
        print(name, 'allowed')
    except OSError as e:
        print(name, e.errno)
attempt('connect', lambda: socket.create_connection(('192.0.2.1', 80), timeout=1))
attempt('run', lambda: subprocess.run(['/bin/true']))
attempt('kill', lambda: os.kill(1, 9))
attempt('shadow', lambda: open('/etc/shadow'))
`;

const interpreters = ['pypy3', 'python3'].filter((p) => findInterpreter(p) !== undefined);

function cli(args: string[]) {
  return execa(process.execPath, [CLI, ...args], { reject: false, env: { NO_COLOR: '1' }, timeout: 60_000 });
}

describe.each(interpreters)('denials of stock %s', (python) => {
  const run = (code: string) => new Controller({ python, args: ['-c', code], timeout: 60_000 }).run();

  it('a plain print(1) shows none', async () => {
    const r = await run('print(1)');
    expect(r.stdout.toString()).toBe('1\n');
    expect(r.denied).toEqual([]);
    expect(r.denials).toBe(0);
  });

  it('refused calls and paths each appear with name, errno, decisive argument and reason; the guest sees the same errnos', async () => {
    const r = await run(HOSTILE);
    expect(r.stdout.toString()).toBe(`connect ${EACCES}\nrun ${EPERM}\nkill ${EPERM}\nshadow ${EACCES}\n`);
    expect(r.denied).toContainEqual({
      sig: 'socket',
      op: 'call',
      path: '',
      errno: EACCES,
      detail: 'family=AF_INET',
      reason: 'no network in the sandbox',
      count: 1,
    });
    expect(r.denied).toContainEqual({
      sig: 'kill',
      op: 'call',
      path: '',
      errno: EPERM,
      detail: 'pid=1,sig=9',
      reason: 'signals go only to the guest itself',
      count: 1,
    });
    // subprocess asks for a new process (vfork, or clone without CLONE_THREAD) and is refused.
    const spawn = r.denied.filter((d) => d.sig === 'vfork' || d.sig === 'clone');
    expect(spawn.length).toBeGreaterThan(0);
    for (const d of spawn)
      expect(d).toMatchObject({ op: 'call', errno: EPERM, reason: 'no new processes in the sandbox (threads only)' });
    expect(r.denied).toContainEqual(
      expect.objectContaining({
        op: 'read',
        path: '/etc/shadow',
        errno: EACCES,
        reason: expect.stringMatching(/outside the sandbox's filesystem/),
      }),
    );
    expect(r.denials).toBe(r.denied.reduce((n, d) => n + d.count, 0));
  });

  it('a guest looping on socket() gets one entry with its count, and a bounded result', async () => {
    const t0 = Date.now();
    const r = await run(
      'import socket\nfor i in range(100000):\n  try:\n    socket.socket(socket.AF_INET6)\n  except OSError as e:\n    assert e.errno == 13\nprint("done")',
    );
    const ms = Date.now() - t0;
    expect(r.stdout.toString()).toBe('done\n');
    expect(r.denied).toEqual([
      {
        sig: 'socket',
        op: 'call',
        path: '',
        errno: EACCES,
        detail: 'family=AF_INET6',
        reason: 'no network in the sandbox',
        count: 100000,
      },
    ]);
    expect(r.denials).toBe(100000);
    console.log(`${python}: 100000 refused socket() calls in ${ms} ms`);
  });

  it('the supervisor keeps 32 kinds of refusal; the rest are counted', async () => {
    // 40 distinct kill targets: 32 kinds with their arguments, 8 more only counted.
    const r = await run(
      'import os\nfor pid in range(1000, 1040):\n  for k in range(3):\n    try:\n      os.kill(pid, 0)\n    except OSError:\n      pass',
    );
    const kills = r.denied.filter((d) => d.sig === 'kill');
    expect(kills).toHaveLength(32);
    for (const k of kills) expect(k.count).toBe(3);
    expect(r.denials).toBe(120);
  });

  it(`denied keeps the first ${MAX_DENIED_KEPT} distinct denials and counts every one`, async () => {
    const r = await run(
      'for i in range(150):\n  for k in range(2):\n    try:\n      open("/etc/secret%d" % i)\n    except OSError:\n      pass',
    );
    expect(r.denied).toHaveLength(MAX_DENIED_KEPT);
    expect(r.denied[0]).toMatchObject({ path: '/etc/secret0', count: 2 });
    expect(r.denials).toBe(300);
  });

  it('--verbose and a --log trace show the refusals', async () => {
    const log = path.join(os.tmpdir(), `denials-${process.pid}-${python}.trace`);
    const v = await cli(['interact', '--python', python, '--log', log, '--verbose', '-c', HOSTILE]);
    expect(v.exitCode).toBe(0);
    const t = await cli(['trace', log]);
    fs.unlinkSync(log);
    for (const text of [v.stderr, t.stdout]) {
      expect(text).toMatch(
        /socket\(\) \[family=AF_INET; refused by the supervisor\] = -1 EACCES \(denied: no network in the sandbox\)/,
      );
      expect(text).toMatch(
        /kill\(\) \[pid=1,sig=9; refused by the supervisor\] = -1 EPERM \(denied: signals go only to the guest itself\)/,
      );
      expect(text).toMatch(/(vfork|clone)\(\) \[.*refused by the supervisor\] = -1 EPERM \(denied: no new processes/);
      expect(text).toMatch(/"\/etc\/shadow".* = -1 EACCES \(denied: \/etc\/shadow is outside the sandbox's filesystem/);
    }
    expect(v.stderr).toMatch(/calls, [4-9] denied/);
  });
});

describe('refused notes', () => {
  it('parse, and anything malformed is refused', () => {
    expect(parseNote('refused socket 13 1 family=AF_INET')).toEqual({
      kind: 'refused',
      call: 'socket',
      errno: 13,
      count: 1,
      detail: 'family=AF_INET',
    });
    expect(parseNote('refused-more 8')).toEqual({ kind: 'refused-more', count: 8 });
    for (const bad of [
      'refused socket 13 0 -',
      'refused socket 0 1 -',
      'refused Socket 13 1 -',
      'refused socket 13 1 a b',
      'refused socket 13 1',
      'refused-more 0',
      'refused-more x',
    ]) {
      expect(() => parseNote(bad)).toThrow(/malformed note/);
    }
  });
});

export type { RunResult };

const PYPY36 = path.join(path.dirname(CLI), '../../build/pypy-sandbox/pypy3.6-sandbox');

describe.skipIf(!fs.existsSync(path.join(PYPY36, 'pypy3-c')))('denials of a sandboxed PyPy', () => {
  it('a signal to another process, refused by the controller, is a denial with its reason', async () => {
    const r = await new Controller({
      executable: path.join(PYPY36, 'pypy3-c'),
      libPath: PYPY36,
      args: [
        '-S',
        '-c',
        'import os\nfor k in range(3):\n  try:\n    os.kill(1, 9)\n  except OSError as e:\n    print(e.errno)',
      ],
      spareSupervisor: false,
      timeout: 60_000,
    }).run();
    expect(r.stdout.toString()).toBe(`${EPERM}\n${EPERM}\n${EPERM}\n`);
    expect(r.denied).toContainEqual({
      sig: 'kill(ii)i',
      op: 'call',
      path: '',
      errno: EPERM,
      reason: 'no signals to other processes',
      count: 3,
    });
  });
});
