import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Session, SessionClosedError } from '../src/index.js';
import { leftOver, marker, STOCK } from './session-helpers.js';

// Snippets written to break the session: forged frames, raw bytes on the real stdout, the walls.
// Whatever they do ends their own session at most (a protocol error, the guest killed), and
// never reaches the host or another session.

afterAll(() => closeSpareSupervisor());

/** Writes bytes to the real fd 1, past the snippet's captured sys.stdout. */
const raw = (bytesExpr: string) => `import os, struct, json\nos.write(1, ${bytesExpr})`;

for (const py of STOCK) {
  describe.skipIf(!py.path).concurrent(`hostile snippets in a session on ${py.name}`, () => {
    const start = (mark: number) => Session.start({ python: py.name, maxAnswerBytes: mark });

    /** Runs a snippet that must end its session with a protocol error; no process left. */
    async function endsWithProtocolError(code: string, message: RegExp) {
      const mark = marker();
      const s = await start(mark);
      await s.run('secret = 42');
      const r = await s.run(code);
      expect(r.ended, JSON.stringify(r)).toMatchObject({ reason: 'protocol', message: expect.stringMatching(message) });
      expect(r.error).toMatchObject({ type: 'SessionEnded' });
      await expect(s.run('secret')).rejects.toBeInstanceOf(SessionClosedError);
      expect(await leftOver(mark)).toEqual([]);
    }

    it('raw bytes on the real stdout end the session with a protocol error', async () => {
      await endsWithProtocolError(raw('b"hello from fd 1\\n"'), /outside the session's framing: "hello from fd 1\\n"/);
    });

    it('print to sys.__stdout__ or a file opened on fd 1 goes to the snippet, or ends the session', async () => {
      const s = await Session.start({ python: py.name });
      try {
        expect(await s.run('import sys\nprint("via __stdout__", file=sys.__stdout__)')).toMatchObject({
          stdout: 'via __stdout__\n',
          ended: null,
        });
        expect((await s.run('sys.stdout.fileno()')).error).toMatchObject({
          type: expect.stringMatching(/OSError|IOError/),
        });
        expect(await s.run('sys.stdin.read(), input() if False else 1')).toMatchObject({ value: "('', 1)" });
      } finally {
        await s.close();
      }
      await endsWithProtocolError(
        'import os\nf = os.fdopen(1, "w")\nf.write("x" * 10)\nf.flush()',
        /outside the session's framing: "xxxxxxxxxx"/,
      );
    });

    it('a forged answer for a request that is not running ends the session', async () => {
      const forged = 'p = json.dumps({"id": "0123456789abcdef", "value": "\'forged\'", "error": None}).encode()\n';
      await endsWithProtocolError(
        `import os, struct, json\n${forged}os.write(1, b"PBXD" + struct.pack(">I", len(p)) + p)`,
        /an answer for request "0123456789abcdef"/,
      );
    });

    it('a snippet that forges its own answer ends its session: nothing reaches the next snippet', async () => {
      const mark = marker();
      const s = await start(mark);
      const code = [
        'import sys, os, struct, json',
        'f = sys._getframe()',
        "while 'req' not in f.f_locals: f = f.f_back",
        "p = json.dumps({'id': f.f_locals['req']['id'], 'value': \"'forged'\", 'error': None}).encode()",
        "os.write(1, b'PBXD' + struct.pack('>I', len(p)) + p)",
        "'real'",
      ].join('\n');
      await s.run(code); // its own answer: whatever it forged
      const next = s.run('1 + 1').then(
        (r) => r,
        (err: unknown) => err,
      );
      const r = await next;
      // The driver's real answer comes out of turn: the session ends before or during the next request.
      if (r instanceof SessionClosedError) expect(r.end.reason).toBe('protocol');
      else expect(r).toMatchObject({ value: null, ended: { reason: 'protocol' } });
      expect(await leftOver(mark)).toEqual([]);
    });

    it('frame headers out of bounds, of unknown kinds, or a second ready frame end the session', async () => {
      await endsWithProtocolError(
        raw('b"PBXO" + struct.pack(">I", 1 << 30)'),
        /frame O of 1073741824 bytes, more than 65536/,
      );
      await endsWithProtocolError(
        raw('b"PBXD" + struct.pack(">I", 1 << 30)'),
        /frame D of 1073741824 bytes, more than/,
      );
      await endsWithProtocolError(raw('b"PBXZ" + struct.pack(">I", 0)'), /unknown frame kind "Z"/);
      await endsWithProtocolError(raw('b"PBXR" + struct.pack(">I", 2) + b"{}"'), /a second ready frame/);
      await endsWithProtocolError(raw('b"PBXD" + struct.pack(">I", 3) + b"[1]"'), /frame D that is not a JSON object/);
    });

    it('garbage a thread left behind writes to fd 1 between snippets ends the session', async () => {
      const mark = marker();
      const s = await start(mark);
      await s.run(
        'import threading, time, os\nthreading.Thread(target=lambda: (time.sleep(0.2), os.write(1, b"late garbage"))).start()',
      );
      await new Promise((r) => setTimeout(r, 500));
      // Its write goes out once the driver's read of the next request has been answered.
      const r = await s.run('1').catch((err: unknown) => err);
      const end = r instanceof SessionClosedError ? r.end : (r as { ended: unknown }).ended;
      expect(end).toMatchObject({ reason: 'protocol', message: expect.stringContaining('"late garbage"') });
      expect(await leftOver(mark)).toEqual([]);
    });

    it('a snippet that closes the real stdout ends its own session', async () => {
      const mark = marker();
      const s = await start(mark);
      const r = await s.run('import os\nos.close(1)');
      expect(r.ended).not.toBeNull();
      expect(r.ended!.reason).toMatch(/exited|protocol/);
      expect(await leftOver(mark)).toEqual([]);
    });

    it('the walls hold in a session as in a run: host files, processes, network; the session goes on', async () => {
      const s = await Session.start({ python: py.name });
      try {
        const r = await s.run(
          [
            'import os, socket, subprocess',
            'out = []',
            'for attempt in (lambda: open("/etc/passwd").read(), lambda: socket.socket().connect(("127.0.0.1", 22)), lambda: subprocess.run(["/bin/sh", "-c", "id"]), lambda: os.kill(1, 9)):',
            '    try:',
            '        attempt()',
            '        out.append("allowed")',
            '    except Exception as e:',
            '        out.append(type(e).__name__)',
            'out, sorted(os.listdir("/"))',
          ].join('\n'),
        );
        expect(r.error).toBeNull();
        const [outcomes, root] = r.value!.split('], [');
        expect(outcomes).not.toContain('allowed');
        expect(outcomes).toContain('PermissionError');
        expect(root).not.toMatch(/'(home|root|work|var)'/);
        expect(await s.run('1 + 1')).toMatchObject({ value: '2', ended: null });
      } finally {
        await s.close();
      }
    });

    it("two sessions share nothing: one's files, globals and modules are not the other's", async () => {
      const [a, b] = await Promise.all([Session.start({ python: py.name }), Session.start({ python: py.name })]);
      try {
        await a.run('secret = "a-only"\nwith open("/tmp/secret.txt", "w") as f:\n    f.write(secret)');
        a.files.write('shared.py', 'X = 1\n');
        expect(await b.run('import os\nsorted(os.listdir("/tmp"))')).toMatchObject({ value: '[]' });
        expect((await b.run('secret')).error).toMatchObject({ type: 'NameError' });
        expect((await b.run('import shared')).error).toMatchObject({
          type: expect.stringMatching(/ImportError|ModuleNotFoundError/),
        });
        expect(() => b.files.read('secret.txt')).toThrow(/does not exist/);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });

    it('answers are bounded: a huge repr is cut, a call result past the bound is an error', async () => {
      const s = await Session.start({ python: py.name, maxAnswerBytes: 256 * 1024 });
      try {
        const r = await s.run('"x" * 1000000');
        expect(r.value!.length).toBeLessThan(70_000);
        expect(r.value).toMatch(/\.\.\. \(1000002 characters in all\)$/);
        const c = await s.call('json:loads', ['[' + Array(200_000).fill('1').join(',') + ']']);
        expect(c.error).toMatchObject({
          type: 'ValueError',
          message: expect.stringMatching(/more than the session carries \(262144\)/),
        });
        expect(await s.run('1')).toMatchObject({ value: '1', ended: null });
      } finally {
        await s.close();
      }
    });
  });
}
