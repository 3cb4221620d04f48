import { execa, type ResultPromise } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor } from '../src/index.js';
import { CLI } from './helpers.js';
import { leftOver, marker, SANDBOXED, STOCK } from './session-helpers.js';

// `pypy-box session` as a program in another language drives it: JSON lines on its stdin and
// stdout, through the built command line.

afterAll(() => closeSpareSupervisor());

type Line = Record<string, unknown>;

/** The command running, with its output read line by line as it comes. */
function serve(args: string[]) {
  const child = execa(process.execPath, [CLI, 'session', ...args], {
    reject: false,
    env: { NO_COLOR: '1' },
    timeout: 60_000,
    stdin: 'pipe',
    buffer: { stdout: false },
  }) as ResultPromise;
  const lines: Line[] = [];
  const waiters: (() => void)[] = [];
  let rest = '';
  child.stdout!.on('data', (b: Buffer) => {
    rest += b.toString();
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
      lines.push(JSON.parse(rest.slice(0, nl)) as Line);
      rest = rest.slice(nl + 1);
    }
    waiters.splice(0).forEach((w) => w());
  });
  /** The first line (in order of arrival) that matches. */
  const wait = async (match: (l: Line) => boolean): Promise<Line> => {
    for (;;) {
      const found = lines.find(match);
      if (found) return found;
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  const send = (o: unknown) => child.stdin!.write(typeof o === 'string' ? `${o}\n` : `${JSON.stringify(o)}\n`);
  const answer = async (o: Line) => {
    send(o);
    return wait((l) => l.id === o.id);
  };
  return { child, lines, wait, send, answer };
}

describe.skipIf(!STOCK[0]!.path)('pypy-box session (JSON lines)', () => {
  it('serves runs, calls and files, answers by id, survives a timeout, and ends on close', async () => {
    const mark = marker();
    const s = serve(['--python', 'pypy3', '--snippet-timeout', '5', '--max-answer', String(mark)]);
    expect(await s.wait((l) => l.event === 'ready')).toMatchObject({ implementation: 'pypy', interrupts: true });
    expect(await s.answer({ id: 1, op: 'run', code: 'x = 6 * 7\nprint("hi")\nx' })).toMatchObject({
      id: 1,
      ok: true,
      stdout: 'hi\n',
      value: '42',
      error: null,
    });
    expect(await s.answer({ id: 2, op: 'files.write', path: 'data/in.txt', data: 'aGVsbG8=', base64: true })).toEqual({
      id: 2,
      ok: true,
    });
    expect(
      await s.answer({
        id: 3,
        op: 'run',
        code: 'with open("/tmp/data/in.txt") as f:\n    text = f.read()\ntext.upper()',
      }),
    ).toMatchObject({ value: "'HELLO'" });
    expect(await s.answer({ id: 4, op: 'files.list', path: 'data' })).toEqual({
      id: 4,
      ok: true,
      entries: [{ name: 'in.txt', type: 'file', size: 5 }],
    });
    expect(await s.answer({ id: 5, op: 'call', fn: 'os.path:join', args: ['a', 'b'] })).toMatchObject({
      ok: true,
      result: 'a/b',
    });
    expect(await s.answer({ id: 6, op: 'files.read', path: '/etc/passwd' })).toMatchObject({
      ok: false,
      error: { code: 'EACCES' },
    });
    expect(await s.answer({ id: 7, op: 'run', code: 'x +' })).toMatchObject({
      ok: true,
      error: { type: 'SyntaxError' },
    });
    // A long snippet, interrupted by a request while it runs (answered at once), then its timeout.
    s.send({ id: 8, op: 'run', code: 'import time\nwhile True: time.sleep(0.01)', timeoutMs: 60_000 });
    await new Promise((r) => setTimeout(r, 300));
    expect(await s.answer({ id: 9, op: 'interrupt' })).toEqual({ id: 9, ok: true, interrupted: true });
    expect(await s.wait((l) => l.id === 8)).toMatchObject({
      ok: true,
      timedOut: false,
      error: { type: 'KeyboardInterrupt' },
      ended: null,
    });
    expect(await s.answer({ id: 10, op: 'run', code: 'while True: pass', timeoutMs: 200 })).toMatchObject({
      timedOut: true,
      error: { type: 'KeyboardInterrupt' },
    });
    s.send('not json');
    expect(await s.wait((l) => l.id === null)).toMatchObject({ ok: false, error: { code: 'EINVAL' } });
    expect(await s.answer({ id: 11, op: 'nope' })).toMatchObject({
      ok: false,
      error: { code: 'EINVAL', message: expect.stringContaining('unknown op "nope"') },
    });
    expect(await s.answer({ id: 12, op: 'run', code: 'x' })).toMatchObject({ value: '42' });
    expect(await s.answer({ id: 13, op: 'close' })).toMatchObject({ ok: true, ended: { reason: 'closed' } });
    const r = await s.child;
    expect(r.exitCode).toBe(0);
    expect(s.lines.at(-1)).toMatchObject({ event: 'ended', reason: 'closed' });
    expect(await leftOver(mark)).toEqual([]);
  });

  it('ends when its input ends, after the requests it has; a session that breaks the framing exits 126', async () => {
    const eof = await execa(process.execPath, [CLI, 'session'], {
      input: '{"id":"a","op":"run","code":"1+1"}\n',
      reject: false,
      timeout: 60_000,
    });
    expect(eof.exitCode).toBe(0);
    const out = eof.stdout.split('\n').map((l) => JSON.parse(l) as Line);
    expect(out.map((l) => l.event ?? l.id)).toEqual(['ready', 'a', 'ended']);
    expect(out[1]).toMatchObject({ value: '2' });
    const broken = await execa(process.execPath, [CLI, 'session'], {
      input: '{"id":1,"op":"run","code":"import os; os.write(1, b\\"boo\\")"}\n',
      reject: false,
      timeout: 60_000,
    });
    expect(broken.exitCode).toBe(126);
    expect(
      broken.stdout
        .split('\n')
        .map((l) => JSON.parse(l) as Line)
        .at(-1),
    ).toMatchObject({ event: 'ended', reason: 'protocol', message: expect.stringContaining('"boo"') });
  });

  it('says how to use it, and refuses bad flags', async () => {
    const help = await execa(process.execPath, [CLI, 'session', '--help'], { reject: false });
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('Serves one session over stdin/stdout as JSON lines');
    const bad = await execa(process.execPath, [CLI, 'session', '--pyhton', 'x'], { reject: false, stdin: 'ignore' });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/Unknown argument: pyhton/);
  });
});

const sandboxed = SANDBOXED[1]!;
describe.skipIf(!sandboxed.present)('pypy-box session with a sandboxed PyPy', () => {
  it('runs the binary given, with its library', async () => {
    const r = await execa(process.execPath, [CLI, 'session', '--lib-path', sandboxed.dir, sandboxed.exe], {
      input: '{"id":1,"op":"run","code":"import sys\\nsys.version_info[:2]"}\n',
      reject: false,
      timeout: 60_000,
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = r.stdout.split('\n').map((l) => JSON.parse(l) as Line);
    expect(out[0]).toMatchObject({ event: 'ready', interrupts: false });
    expect(out[1]).toMatchObject({ id: 1, value: '(3, 6)' });
  });
});
