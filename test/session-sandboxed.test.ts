import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Session, SessionClosedError, type SessionOptions } from '../src/index.js';
import { leftOver, marker, SANDBOXED } from './session-helpers.js';

// Sessions on the real sandboxed PyPy builds (2.7 and 3.6): the same driver, the same framing,
// behind the strict seccomp wall. They have no signal module: a snippet timeout ends the session,
// and the result says so.

afterAll(() => closeSpareSupervisor());

for (const p of SANDBOXED) {
  describe.skipIf(!p.present).concurrent(`a session on the sandboxed ${p.name}`, () => {
    const start = (o: SessionOptions = {}) => Session.start({ executable: p.exe, libPath: p.dir, ...o });

    it('keeps state between cells, shows values and errors, behind the strict wall', async () => {
      const s = await start();
      try {
        expect(s.info).toMatchObject({
          implementation: 'pypy',
          interrupts: false,
          version: p.name.endsWith('2.7') ? expect.stringMatching(/^2\.7/) : expect.stringMatching(/^3\.6/),
        });
        expect(await s.run('import json\nx = 40')).toMatchObject({ value: null, error: null });
        expect(await s.run('x += 2\nprint(json.dumps({"x": x}))\nx')).toMatchObject({
          stdout: '{"x": 42}\n',
          value: '42',
        });
        const err = await s.run('def f(n):\n    return {}[n]\nf("missing")');
        expect(err.error).toMatchObject({ type: 'KeyError' });
        expect(err.error!.traceback).toMatch(
          /File "<cell-3>", line 3, in <module>\n {4}f\("missing"\)\n {2}File "<cell-3>", line 2, in f\n/,
        );
        expect((await s.run("open('/etc/passwd')")).error).toMatchObject({
          type: p.name.endsWith('2.7') ? 'IOError' : 'PermissionError',
        });
        expect(await s.run('x')).toMatchObject({ value: '42', ended: null });
        const run = await s.close();
        expect(run.run?.walls).toContain('seccomp-strict');
      } finally {
        await s.close();
      }
    });

    it('moves files in and out and calls functions with JSON', async () => {
      const s = await start();
      try {
        s.files.write('in/data.json', '{"values": [3, 4, 5]}');
        await s.run(
          'import json\ndef total(path):\n    with open(path) as f:\n        return {"sum": sum(json.load(f)["values"])}',
        );
        expect(await s.call(':total', ['/tmp/in/data.json'])).toMatchObject({ result: { sum: 12 }, error: null });
        expect((await s.call('json:loads', ['{"k": "\\u00e9"}'])).result).toEqual({ k: 'é' });
        await s.run('with open("/tmp/out.txt", "w") as f:\n    f.write("written in the guest")');
        expect(s.files.read('out.txt').toString()).toBe('written in the guest');
        expect((await s.call(':total', ['/tmp/nothing'])).error).toMatchObject({
          type: expect.stringMatching(/IOError|FileNotFoundError/),
        });
        await s.run('def bad(): return set([1])');
        expect((await s.call(':bad')).error).toMatchObject({
          type: 'TypeError',
          message: expect.stringContaining('type set'),
        });
      } finally {
        await s.close();
      }
    });

    it('a snippet timeout ends the session (no signal module), with a result that says so; no process left', async () => {
      const mark = marker();
      const s = await start({ maxAnswerBytes: mark });
      await s.run('x = 1');
      const r = await s.run('while True: pass', { timeoutMs: 300 });
      expect(r).toMatchObject({ timedOut: true, error: { type: 'TimeoutError' }, ended: { reason: 'timeout' } });
      expect(r.ended!.message).toMatch(/cannot be interrupted \(pypy \S+ has no signal module\): session ended/);
      await expect(s.run('x')).rejects.toBeInstanceOf(SessionClosedError);
      expect(await leftOver(mark)).toEqual([]);
    });

    it('raw bytes on fd 1 end the session with a protocol error', async () => {
      const mark = marker();
      const s = await start({ maxAnswerBytes: mark });
      const r = await s.run('import os\nos.write(1, b"not a frame")');
      expect(r.ended).toMatchObject({ reason: 'protocol', message: expect.stringContaining('"not a frame"') });
      expect(await leftOver(mark)).toEqual([]);
    });

    it('closes cleanly', async () => {
      const mark = marker();
      const s = await start({ maxAnswerBytes: mark });
      expect(await s.run('1 + 1')).toMatchObject({ value: '2' });
      expect(await s.close()).toMatchObject({ reason: 'closed', exitCode: 0 });
      expect(await leftOver(mark)).toEqual([]);
    });
  });
}
