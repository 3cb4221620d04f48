import { afterAll, describe, expect, it } from 'vitest';
import {
  closeSpareSupervisor,
  Session,
  SessionClosedError,
  SessionFileError,
  type SessionOptions,
} from '../src/index.js';
import { leftOver, marker, processesWith, STOCK } from './session-helpers.js';

// Sessions on stock interpreters, driven as a notebook (cells one after another, state kept) and
// as a code tool (calls, files in and out, timeouts it must survive).

afterAll(() => closeSpareSupervisor());

for (const py of STOCK) {
  describe.skipIf(!py.path).concurrent(`a session on ${py.name}`, () => {
    const start = (o: SessionOptions = {}) => Session.start({ python: py.name, ...o });

    it('keeps globals, imports and functions between cells; the last expression is the value', async () => {
      const s = await start();
      try {
        expect(await s.run('x = 40\nimport math')).toMatchObject({ value: null, error: null, stdout: '' });
        expect(await s.run('x += 2\nprint("x is", x)\nx')).toMatchObject({
          stdout: 'x is 42\n',
          value: '42',
          error: null,
        });
        expect(await s.run('def area(r): return round(math.pi * r * r, 2)\narea(2)')).toMatchObject({ value: '12.57' });
        expect(await s.run('[area(1), "two", {"k": None}]')).toMatchObject({ value: "[3.14, 'two', {'k': None}]" });
        // A statement last, or None, shows nothing; `_` holds the last value shown.
        expect(await s.run('y = x')).toMatchObject({ value: null });
        expect(await s.run('None')).toMatchObject({ value: null });
        expect(await s.run('_')).toMatchObject({ value: "[3.14, 'two', {'k': None}]" });
        expect(await s.run('import sys; sys.stderr.write("careful\\n"); __name__')).toMatchObject({
          stderr: 'careful\n',
          value: "'__main__'",
        });
      } finally {
        await s.close();
      }
    });

    it('reports an uncaught exception with its type, message and traceback, and goes on', async () => {
      const s = await start();
      try {
        await s.run('def inner(n):\n    return 10 // n\ndef outer(n):\n    return inner(n - 1)');
        const r = await s.run('print("before")\nouter(1)');
        expect(r.stdout).toBe('before\n');
        expect(r.value).toBeNull();
        expect(r.error).toMatchObject({ type: 'ZeroDivisionError', message: expect.stringMatching(/by zero$/) });
        // The frames are the cells' own, with their source lines; none of the driver's.
        expect(r.error!.traceback).toMatch(
          /^Traceback \(most recent call last\):\n {2}File "<cell-2>", line 2, in <module>\n {4}outer\(1\)\n {2}File "<cell-1>", line 4, in outer\n {4}return inner\(n - 1\)\n {2}File "<cell-1>", line 2, in inner\n {4}return 10 \/\/ n\nZeroDivisionError: /,
        );
        const syntax = await s.run('def broken(:\n    pass');
        expect(syntax.error).toMatchObject({ type: 'SyntaxError' });
        expect(syntax.error!.traceback).toContain('<cell-3>');
        const exit = await s.run('import sys; sys.exit(3)');
        expect(exit.error).toMatchObject({ type: 'SystemExit', message: '3' });
        expect(await s.run('outer(3)')).toMatchObject({ value: '5', error: null, ended: null });
      } finally {
        await s.close();
      }
    });

    it('interrupts a snippet at its timeout with KeyboardInterrupt; the session and its state survive', async () => {
      const s = await start();
      try {
        await s.run('count = 0');
        const loop = await s.run('while True:\n    count += 1', { timeoutMs: 300 });
        expect(loop).toMatchObject({ timedOut: true, ended: null, error: { type: 'KeyboardInterrupt' } });
        expect(loop.error!.traceback).toContain('<cell-2>');
        expect(loop.error!.traceback).not.toContain('on_interrupt');
        expect(loop.durationMs).toBeGreaterThanOrEqual(300);
        expect(loop.durationMs).toBeLessThan(2000);
        expect(Number((await s.run('count')).value)).toBeGreaterThan(0);
        const sleep = await s.run('import time\ntime.sleep(30)', { timeoutMs: 200 });
        expect(sleep).toMatchObject({ timedOut: true, error: { type: 'KeyboardInterrupt' } });
        // Snippets that end about when their timeout fires (interrupted or not): an interrupt
        // still on its way when one ended never reaches the next.
        for (let i = 0; i < 8; i++) {
          await s.run('time.sleep(0.048)', { timeoutMs: 50 });
          expect(await s.run(`sum(range(200000)) + ${i}`)).toMatchObject({
            error: null,
            value: String(19999900000 + i),
          });
        }
        expect(await s.run('count > 0')).toMatchObject({ value: 'True', error: null });
      } finally {
        await s.close();
      }
    });

    it('ends the session when a snippet swallows its KeyboardInterrupt, and says so', async () => {
      const mark = marker();
      const s = await start({ interruptGraceMs: 500, maxAnswerBytes: mark });
      // Set up first, without a timeout: on a loaded machine the import alone may take 200 ms.
      await s.run('import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)');
      const r = await s.run('while True: pass', { timeoutMs: 200 });
      expect(r).toMatchObject({ timedOut: true, error: { type: 'TimeoutError' }, ended: { reason: 'timeout' } });
      expect(r.ended!.message).toContain('went on 500 ms after its KeyboardInterrupt');
      await expect(s.run('1')).rejects.toBeInstanceOf(SessionClosedError);
      expect(await leftOver(mark)).toEqual([]);
    });

    it('moves files in and out of its /tmp from the host, between and during snippets', async () => {
      const s = await start();
      try {
        s.files.write('data/in.csv', 'a,b\n1,2\n');
        s.files.write('/tmp/helper.py', 'def twice(v):\n    return 2 * v\n');
        expect(
          await s.run('import helper\nrows = open("/tmp/data/in.csv").read().split()\nhelper.twice(len(rows))'),
        ).toMatchObject({ value: '4', error: null });
        await s.run(
          'import os\nos.makedirs("/tmp/out")\nwith open("/tmp/out/result.bin", "wb") as f:\n    f.write(bytes(range(256)))\nos.symlink("/etc/passwd", "/tmp/out/link")',
        );
        expect(s.files.read('out/result.bin')).toEqual(Buffer.from(Array.from({ length: 256 }, (_, i) => i)));
        expect(s.files.list('/tmp/out')).toEqual([
          { name: 'link', type: 'symlink', size: 0 },
          { name: 'result.bin', type: 'file', size: 256 },
        ]);
        expect(s.files.list().map((e) => e.name)).toEqual(['data', 'helper.py', 'out']);
        // A module the host adds after the guest has looked at /tmp is found at once.
        s.files.write('late.py', 'V = 5\n');
        expect(await s.run('import late\nlate.V')).toMatchObject({ value: '5', error: null });
        // A module changed by the host is seen fresh after a reload.
        s.files.write('helper.py', 'def twice(v):\n    return 3 * v\n');
        expect(await s.run('import importlib\nimportlib.reload(helper).twice(2)')).toMatchObject({ value: '6' });
        // Nothing outside /tmp, and no symlink is followed.
        expect(() => s.files.read('/etc/passwd')).toThrow(SessionFileError);
        expect(() => s.files.read('../etc/passwd')).toThrow(/only names inside the session's \/tmp/);
        expect(() => s.files.read('out/link')).toThrow(/not a regular file/);
        s.files.remove('out', { recursive: true });
        s.files.remove('data/in.csv');
        expect(await s.run('sorted(os.listdir("/tmp")), os.listdir("/tmp/data")')).toMatchObject({
          value: "(['data', 'helper.py', 'late.py'], [])",
        });
        expect(() => s.files.remove('nothing')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
      } finally {
        await s.close();
      }
    });

    it('keeps the /tmp quota for the host writes too', async () => {
      const s = await start({ limits: { tmpBytes: 64 * 1024 } });
      try {
        expect(() => s.files.write('big', Buffer.alloc(128 * 1024))).toThrow(
          expect.objectContaining({ code: 'ENOSPC' }),
        );
      } finally {
        await s.close();
      }
    });

    it('calls functions with JSON arguments and gives back their JSON value', async () => {
      const s = await start();
      try {
        await s.run(
          'def score(answers, weights=None):\n    weights = weights or [1] * len(answers)\n    return {"total": sum(a * w for a, w in zip(answers, weights)), "n": len(answers)}',
        );
        expect(await s.call('__main__:score', [[1, 0, 1]])).toMatchObject({ result: { total: 2, n: 3 }, error: null });
        expect(await s.call(':score', [[1, 1]], { kwargs: { weights: [2, 5] } })).toMatchObject({
          result: { total: 7, n: 2 },
        });
        expect(await s.call('os.path:join', ['a', 'b'])).toMatchObject({ result: 'a/b' });
        expect(await s.call('json:loads', ['{"k": [1, 2.5, null, true]}'])).toMatchObject({
          result: { k: [1, 2.5, null, true] },
        });
        // A value JSON cannot carry: an error naming its type and where it is; nothing pickled.
        await s.run(
          'def odd(): return {"ok": [1, {"s": {1, 2}}]}\ndef nan(): return float("nan")\nclass P: pass\ndef obj(): return P()',
        );
        expect((await s.call(':odd')).error).toMatchObject({
          type: 'TypeError',
          message: "the return value holds a value of type set at result['ok'][1]['s'], which JSON cannot carry",
        });
        expect((await s.call(':nan')).error!.message).toContain('nan');
        expect((await s.call(':obj')).error!.message).toContain('type P');
        const failing = await s.call(':score', [[1, 'x']]);
        expect(failing.error).toMatchObject({ type: 'TypeError' });
        expect(failing.error!.traceback).toContain('in score');
        expect((await s.call('no_such_module:f')).error).toMatchObject({
          type: expect.stringMatching(/ImportError|ModuleNotFoundError/),
        });
        expect((await s.call(':missing')).error).toMatchObject({ type: 'AttributeError' });
      } finally {
        await s.close();
      }
    });

    it('reports a hard limit that ends the session: memory, the whole time, the interpreter exiting', async () => {
      const memory = await start({ limits: { memoryBytes: 256 * 1024 * 1024 } });
      const m = await memory.run('blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))');
      expect(m.ended).toMatchObject({ reason: 'limit', limit: { name: 'memory' } });
      expect(m.error).toMatchObject({ type: 'SessionEnded' });
      const time = await start({ timeout: 1500 });
      expect(await time.run('1')).toMatchObject({ value: '1' });
      const t = await time.run('while True: pass');
      expect(t.ended).toMatchObject({ reason: 'limit', limit: { name: 'timeout', value: 1500 } });
      const exiting = await start();
      const e = await exiting.run('import os\nos._exit(7)');
      expect(e.ended).toMatchObject({ reason: 'exited', exitCode: 7 });
      await expect(exiting.call(':f')).rejects.toThrow(/the session has ended \(exited\)/);
    });

    it('caps the output kept per snippet and drops the rest', async () => {
      const s = await start({ limits: { outputBytes: 1000 } });
      try {
        const r = await s.run('for i in range(1000): print("line", i)\n"done"');
        expect(r).toMatchObject({ outputTruncated: true, value: "'done'" });
        expect(r.stdout.length).toBe(1000);
        expect(await s.run('print("small")')).toMatchObject({ stdout: 'small\n', outputTruncated: false });
      } finally {
        await s.close();
      }
    });

    it('gives what a thread printed between snippets to the next result, apart from its own output', async () => {
      const s = await start();
      try {
        // A worker that reports progress: it goes on after its snippet has answered.
        const started = await s.run(
          [
            'import threading, time, sys',
            'go = threading.Event()',
            'def work():',
            '    time.sleep(0.2)',
            '    for i in range(3):',
            '        print("step", i)',
            '    sys.stderr.write("worker warning\\n")',
            '    go.wait()',
            '    print("during the next snippet")',
            'print("starting")',
            't = threading.Thread(target=work)',
            't.start()',
          ].join('\n'),
        );
        expect(started).toMatchObject({ stdout: 'starting\n', background: { stdout: '', stderr: '' } });
        await new Promise((r) => setTimeout(r, 600));
        // Printed while no snippet ran: in `background` of the next result, none lost, none mixed in.
        const next = await s.run('print("mine")\ngo.set(); t.join()\n1');
        expect(next).toMatchObject({
          value: '1',
          background: { stdout: 'step 0\nstep 1\nstep 2\n', stderr: 'worker warning\n', truncated: false },
          ended: null,
        });
        // What a thread prints while a snippet runs is that snippet's output.
        expect(next.stdout).toBe('mine\nduring the next snippet\n');
        expect(next.stderr).toBe('');
        expect(await s.run('2')).toMatchObject({ stdout: '', background: { stdout: '', stderr: '' } });
      } finally {
        await s.close();
      }
    });

    it('says when background output was dropped: past the output cap, or past what the guest keeps', async () => {
      const s = await start({ limits: { outputBytes: 100 }, maxAnswerBytes: 2048 });
      try {
        await s.run(
          'import threading, time\nthreading.Thread(target=lambda: (time.sleep(0.2), print("x" * 5000))).start()',
        );
        await new Promise((r) => setTimeout(r, 600));
        const r = await s.run('print("ok")');
        expect(r).toMatchObject({ stdout: 'ok\n', outputTruncated: false, background: { truncated: true } });
        expect(r.background.stdout).toBe('x'.repeat(100));
      } finally {
        await s.close();
      }
    });

    it('closes without leaving a process; a closed session refuses more', async () => {
      const mark = marker();
      const s = await start({ maxAnswerBytes: mark });
      expect(processesWith(mark).length).toBeGreaterThan(0);
      await s.run('x = 1');
      expect(await s.close()).toMatchObject({ reason: 'closed', exitCode: 0 });
      expect(await s.close()).toMatchObject({ reason: 'closed' });
      await expect(s.run('x')).rejects.toBeInstanceOf(SessionClosedError);
      expect(await leftOver(mark)).toEqual([]);
    });

    it('runs requests one at a time in the order given', async () => {
      const s = await start();
      try {
        const all = await Promise.all([
          s.run('log = []'),
          ...[1, 2, 3].map((i) => s.run(`log.append(${i})`)),
          s.run('log'),
        ]);
        expect(all.at(-1)!.value).toBe('[1, 2, 3]');
      } finally {
        await s.close();
      }
    });
  });
}

describe.skipIf(!STOCK[0]!.path)('a session and its AbortSignal', () => {
  it('ends the session when the signal is aborted, and says so', async () => {
    const mark = marker();
    const abort = new AbortController();
    const s = await Session.start({ python: 'pypy3', signal: abort.signal, maxAnswerBytes: mark });
    const pending = s.run('import time\ntime.sleep(30)');
    setTimeout(() => abort.abort(new Error('shutting down')), 200);
    expect((await pending).ended).toMatchObject({
      reason: 'aborted',
      message: 'aborted by its AbortSignal (shutting down)',
    });
    expect(await leftOver(mark)).toEqual([]);
  });
});

describe('session options', () => {
  it('refuses the options that carry the session itself', async () => {
    await expect(Session.start({ args: ['-c', 'pass'] } as never)).rejects.toThrow(
      /option args: a session carries its requests/,
    );
    await expect(Session.start({ stdout: 'inherit' } as never)).rejects.toThrow(/option stdout/);
    await expect(Session.start({ interruptGraceMs: -1 })).rejects.toThrow(/option interruptGraceMs/);
    await expect(Session.start({ pyhton: 'pypy3' } as never)).rejects.toThrow(
      /option pyhton: unknown option \(did you mean python\?\)/,
    );
  });

  it('says why a session could not start', async () => {
    const missing = await Session.start({ python: '/nonexistent/python' }).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(SessionClosedError);
    expect((missing as SessionClosedError).end).toMatchObject({
      reason: 'error',
      message: expect.stringContaining('/nonexistent/python not found'),
    });
    await expect(Session.start({ startTimeoutMs: 1 })).rejects.toThrow(
      /the interpreter did not become ready within 1 ms/,
    );
  });
});
