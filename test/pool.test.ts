import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Pool, PoolError, SandboxError, type JobResult } from '../src/index.js';
import { alive, childPids, ROOT, waitFor } from './helpers.js';

// Pools of real stock interpreters (pypy3 here), driven as a grader drives them.

const pools: Pool[] = [];
function pool(options: ConstructorParameters<typeof Pool>[0] = {}): Pool {
  const p = new Pool({ python: 'pypy3', ...options });
  pools.push(p);
  return p;
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close({ force: true })));
});

const text = (r: JobResult) => r.stdout.toString();

describe('Pool', () => {
  it('a burst larger than the queue: the surplus is refused clearly, every accepted job completes', async () => {
    const p = pool({ size: 2, queueLimit: 3 });
    const jobs = Array.from({ length: 12 }, (_, i) =>
      p.run({ code: `import time; time.sleep(0.2); print(${i} * ${i})` }),
    );
    const settled = await Promise.allSettled(jobs);
    const ok = settled.flatMap((s, i) => (s.status === 'fulfilled' ? [[i, s.value] as const] : []));
    const refused = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as PoolError] : []));
    // Two run at once and three wait: the first five are taken, the other seven refused at once.
    expect(ok.map(([i]) => i)).toEqual([0, 1, 2, 3, 4]);
    for (const [i, r] of ok) expect([r.outcome, r.exitCode, text(r)]).toEqual(['exited', 0, `${i * i}\n`]);
    expect(refused).toHaveLength(7);
    for (const e of refused) {
      expect(e).toBeInstanceOf(PoolError);
      expect(e.kind).toBe('queue-full');
      expect(e.message).toMatch(/queue is full: 2 jobs running, 3 waiting \(queueLimit 3\)/);
    }
    expect(p.stats()).toMatchObject({ queued: 0, running: 0, done: 5, failed: 0, rejected: 7 });
    expect(p.stats().p99Ms).toBeGreaterThanOrEqual(p.stats().p50Ms!);
    // The pool takes jobs again once the burst has passed.
    expect(text(await p.run({ code: 'print("after")' }))).toBe('after\n');
  });

  it('a job is aborted by its signal: while queued it is dropped, while running its guest is ended', async () => {
    const p = pool({ size: 1 });
    const running = new AbortController();
    const queued = new AbortController();
    const first = p.run({ code: 'while True: pass' }, { signal: running.signal });
    const second = p.run({ code: 'print("never")' }, { signal: queued.signal });
    await waitFor(() => p.stats().running === 1 && p.stats().queued === 1);
    queued.abort('user left');
    const e2 = await second.catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(PoolError);
    expect((e2 as PoolError).kind).toBe('aborted');
    expect((e2 as PoolError).message).toContain('user left');
    running.abort('cancelled');
    const e1 = await first.catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(SandboxError);
    expect((e1 as SandboxError).kind).toBe('aborted');
    expect((e1 as SandboxError).message).toContain('cancelled');
    expect(p.stats()).toMatchObject({ running: 0, queued: 0, failed: 2 });
    expect(text(await p.run({ code: 'print("still here")' }))).toBe('still here\n');
  });

  it("a job's own timeout ends its guest and says so; the next job runs", async () => {
    const p = pool({ size: 1, timeout: 20_000 });
    const t0 = performance.now();
    const r = await p.run({ code: 'print("start", flush=True)\nwhile True: pass' }, { limits: { timeoutMs: 400 } });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(r.outcome).toBe('timeout');
    expect(r.timedOut).toBe(true);
    expect(r.limit).toEqual({ name: 'timeout', value: 400 });
    expect(text(r)).toBe('start\n');
    // Counted as over by the time its caller has the result.
    expect(p.stats()).toMatchObject({ running: 0, failed: 1 });
    // A pool's default timeout applies to jobs without their own.
    const q = pool({ size: 1, timeout: 300 });
    expect((await q.run({ code: 'import time; time.sleep(30)' })).outcome).toBe('timeout');
    expect(text(await p.run({ code: 'print(6 * 7)' }))).toBe('42\n');
  });

  it('a job with limits a warm guest cannot change gets a guest of its own with them', async () => {
    const p = pool({ size: 1 });
    const r = await p.run({ code: 'while True: print("x" * 100)' }, { limits: { outputBytes: 1000 } });
    expect(r.outcome).toBe('limit');
    expect(r.limit).toEqual({ name: 'output', value: 1000 });
    expect(r.stdout.length).toBe(1000);
  });

  it("a job's top level is a real __main__ module, as a script's: pickle finds its classes, loops run at full speed", async () => {
    const p = pool({ size: 1 });
    const job = {
      code: [
        'import pickle, sys, time',
        'class Answer(object):',
        '    def __init__(self, v): self.v = v',
        'print(pickle.loads(pickle.dumps(Answer(42))).v, sys.modules["__main__"].Answer is Answer)',
        'def in_function():',
        '    n = 0',
        '    for i in range(20000000): n += i % 7',
        '    return n',
        't = time.time(); n = 0',
        'for i in range(20000000): n += i % 7',
        'top = time.time() - t; t = time.time(); assert in_function() == n',
        'print("top level %.1fx the function" % (top / (time.time() - t)))',
      ].join('\n'),
    };
    for (const key of [undefined, 'k']) {
      const r = await p.run(job, { key });
      expect(r.stderr.toString()).toBe('');
      const [first, second] = text(r).split('\n');
      expect(first).toBe('42 True');
      // A plain dict as globals made this loop 15 to 30 times slower than in a function (a script: 1 to 2.5).
      expect(Number(/top level ([\d.]+)x/.exec(second!)![1])).toBeLessThan(8);
    }
  });

  it('no state is shared between jobs: globals, modules, files in /tmp, the environment', async () => {
    const p = pool({ size: 2 });
    const first = await p.run({
      code: [
        'import os, sys, builtins, json',
        'secret = "s3cret"',
        'open("/tmp/secret.txt", "w").write(secret)',
        'os.environ["LEFT"] = "behind"',
        'builtins.leak = secret',
        'json.dumps = lambda *a, **k: "poisoned"',
        'sys.modules["planted"] = sys',
        'print(open("/tmp/input.txt").read())',
      ].join('\n'),
      files: { 'input.txt': 'mine' },
    });
    expect([first.exitCode, text(first)]).toEqual([0, 'mine\n']);
    for (let k = 0; k < 3; k++) {
      const r = await p.run({
        code: [
          'import os, sys, builtins, json',
          'print(sorted(os.listdir("/tmp")), os.environ.get("LEFT"), hasattr(builtins, "leak"), json.dumps(1), "planted" in sys.modules, "secret" in globals())',
        ].join('\n'),
      });
      expect(r.stderr.toString()).toBe('');
      expect(text(r)).toBe('[] None False 1 False False\n');
    }
  });

  it("a job cannot read another job's data while both run", async () => {
    const p = pool({ size: 2 });
    await p.ready();
    const holder = p.run({
      code: 'import time\nwith open("/tmp/secret.txt", "w") as f:\n    f.write("s3cret")\ntime.sleep(1.5)\nprint(open("/tmp/secret.txt").read())',
    });
    await new Promise((r) => setTimeout(r, 500));
    const snoop = await p.run({
      code: [
        'import os',
        'print(os.listdir("/tmp"))',
        'for path in ("/proc/1/environ", "/proc/self/root/tmp/secret.txt", "/tmp/../tmp/secret.txt"):',
        '    try:',
        '        print(path, open(path).read())',
        '    except OSError as e:',
        '        print(path, type(e).__name__)',
      ].join('\n'),
    });
    expect(text(snoop)).not.toContain('s3cret');
    expect(text(snoop).split('\n')[0]).toBe('[]');
    expect(text(await holder)).toBe('s3cret\n');
  });

  it("a thread a keyed job leaves behind writes into its own key's next job, never another's", async () => {
    const p = pool({ size: 1 });
    const r = await p.run(
      {
        code: 'import threading, time\nstate = 1\ndef late():\n    time.sleep(0.3)\n    print("late", flush=True)\nthreading.Thread(target=late).start()',
      },
      { key: 'k' },
    );
    expect([r.exitCode, text(r)]).toEqual([0, '']);
    await new Promise((res) => setTimeout(res, 600));
    expect(text(await p.run({ code: 'print("other")' }, { key: 'other' }))).toBe('other\n');
    expect(text(await p.run({ code: 'print("plain")' }))).toBe('plain\n');
    // The guest's write waits behind its driver's read of the next job: it comes with that job.
    const next = await p.run({ code: 'print("state" in globals())' }, { key: 'k' });
    expect(text(next).split('\n').sort()).toEqual(['', 'True', 'late']);
  });

  it('an interpreter that cannot start: ready() and run() say why', async () => {
    const p = pool({ python: '/nonexistent/python3', size: 1 });
    await expect(p.ready()).rejects.toThrow(/nonexistent/);
    await expect(p.run({ code: 'print(1)' })).rejects.toMatchObject({ kind: 'spawn' });
  });

  it("an uncaught exception is the job's traceback (without the driver) and exit status 1", async () => {
    const p = pool({ size: 1 });
    const r = await p.run({
      code: 'def grade():\n    raise ValueError("wrong answer")\ngrade()\n',
      name: 'answer.py',
      args: ['--strict'],
    });
    expect(r.outcome).toBe('exited');
    expect(r.exitCode).toBe(1);
    expect(r.stderr.toString()).toBe(
      'Traceback (most recent call last):\n  File "answer.py", line 3, in <module>\n  File "answer.py", line 2, in grade\nValueError: wrong answer\n',
    );
    const argv = await p.run({
      code: 'import sys; print(sys.argv); sys.exit(3)',
      name: 'answer.py',
      args: ['--strict'],
      stdin: 'input line\n',
    });
    expect([text(argv), argv.exitCode]).toEqual(["['answer.py', '--strict']\n", 3]);
    const input = await p.run({ code: 'print(input().upper())', stdin: 'input line\n' });
    expect(text(input)).toBe('INPUT LINE\n');
    expect(p.stats()).toMatchObject({ done: 1, failed: 2 });
  });

  it('jobs with a key run in one long-lived guest that keeps their state; other keys and unkeyed jobs do not see it', async () => {
    const p = pool({ size: 1 });
    expect(
      (
        await p.run(
          {
            code: 'import collections\ncount = collections.Counter()\nwith open("/tmp/notes.txt", "w") as f:\n    f.write("kept")',
          },
          { key: 'alice' },
        )
      ).exitCode,
    ).toBe(0);
    const again = await p.run(
      { code: 'count["runs"] += 1\nprint(count["runs"], open("/tmp/notes.txt").read())' },
      { key: 'alice' },
    );
    expect([again.guest, again.exitCode, text(again)]).toEqual(['keyed', 0, '1 kept\n']);
    const failing = await p.run({ code: 'raise KeyError("oops")' }, { key: 'alice' });
    expect(failing.exitCode).toBe(1);
    expect(failing.stderr.toString()).toMatch(/KeyError: 'oops'\n$/);
    const other = await p.run({ code: 'import os\nprint("count" in globals(), os.listdir("/tmp"))' }, { key: 'bob' });
    expect(text(other)).toBe('False []\n');
    const plain = await p.run({ code: 'import os\nprint("count" in globals(), os.listdir("/tmp"))' });
    expect(text(plain)).toBe('False []\n');
    // A job cannot end its predecessor's framing early: a forged end line is only its own stderr.
    const forged = await p.run(
      {
        code: 'import os, sys\nos.write(2, b"\\0pypy-box-end 00000000000000000000000000000000 0\\n")\nprint("after")\nsys.exit(4)',
      },
      { key: 'alice' },
    );
    expect([forged.exitCode, text(forged), forged.stderr.toString()]).toEqual([
      4,
      'after\n',
      '\0pypy-box-end 00000000000000000000000000000000 0\n',
    ]);
    const last = await p.run({ code: 'count["runs"] += 1\nprint(count["runs"])' }, { key: 'alice' });
    expect(text(last)).toBe('2\n');
    expect(p.stats().keyed).toBe(2);
    // A keyed job's timeout ends its guest: the key starts afresh.
    const slow = await p.run({ code: 'while True: pass' }, { key: 'alice', limits: { timeoutMs: 300 } });
    expect(slow.outcome).toBe('timeout');
    const fresh = await p.run({ code: 'print("count" in globals())' }, { key: 'alice' });
    expect(text(fresh)).toBe('False\n');
  });

  it('a keyed job past its output cap ends its guest with the output limit', async () => {
    const p = pool({ size: 0 });
    const r = await p.run({ code: 'while True: print("y" * 100)' }, { key: 'k', limits: { outputBytes: 5000 } });
    expect(r.outcome).toBe('limit');
    expect(r.limit).toEqual({ name: 'output', value: 5000 });
    expect(r.stdout.length).toBeLessThanOrEqual(5000);
  });

  it('drain() waits for every job; close() ends the warm and keyed guests and leaves no process', async () => {
    const p = new Pool({ python: 'pypy3', size: 2 });
    const jobs = [p.run({ code: 'print(1)' }), p.run({ code: 'print(2)' }), p.run({ code: 'x = 1' }, { key: 'a' })];
    await p.drain();
    expect(p.stats()).toMatchObject({ running: 0, queued: 0, done: 3 });
    expect((await Promise.all(jobs)).map(text)).toEqual(['1\n', '2\n', '']);
    const before = childPids();
    expect(before.length).toBeGreaterThanOrEqual(3); // two warm guests and the keyed one
    const slow = p.run({ code: 'import time; time.sleep(0.5); print("finished")' });
    await p.close();
    expect(text(await slow)).toBe('finished\n'); // close() lets a running job finish
    await expect(p.run({ code: 'print(1)' })).rejects.toMatchObject({ kind: 'closed' });
    expect(childPids()).toEqual([]);
    expect(before.every((pid) => !alive(pid))).toBe(true);
  });

  it('close({ force: true }) ends the running jobs and drops the queued ones', async () => {
    const p = new Pool({ python: 'pypy3', size: 1 });
    const running = p.run({ code: 'while True: pass' }).catch((e: unknown) => e);
    const queued = p.run({ code: 'print(1)' }).catch((e: unknown) => e);
    await waitFor(() => p.stats().running === 1);
    await p.close({ force: true });
    expect(await running).toMatchObject({ kind: 'aborted' });
    expect(await queued).toMatchObject({ kind: 'closed' });
    expect(childPids()).toEqual([]);
  });

  it('options the pool sets itself, or that would share state, are refused by name', () => {
    expect(() => new Pool({ python: 'pypy3', args: ['-c', 'pass'] } as never)).toThrow(
      /option args: not a pool option/,
    );
    expect(() => new Pool({ python: 'pypy3', vfs: {} } as never)).toThrow(
      /option vfs: not a pool option: one tree would be shared/,
    );
    expect(() => new Pool({ python: 'pypy3', size: -1 })).toThrow(/option size: expected an integer >= 0/);
    expect(() => new Pool({ pyhton: 'pypy3' } as never)).toThrow(/did you mean python/);
  });
});

const BUILDS = path.join(ROOT, 'build/pypy-sandbox');
const SANDBOXED = [
  { name: 'PyPy 2.7', dir: path.join(BUILDS, 'pypy2.7-sandbox'), binary: 'pypy-c' },
  { name: 'PyPy 3.6', dir: path.join(BUILDS, 'pypy3.6-sandbox'), binary: 'pypy3-c' },
];
for (const b of SANDBOXED) {
  const exe = path.join(b.dir, b.binary);
  describe.skipIf(!fs.existsSync(exe))(`Pool of a sandboxed ${b.name}`, () => {
    const sandboxedPool = () => {
      const p = new Pool({ executable: exe, libPath: b.dir, size: 1 });
      pools.push(p);
      return p;
    };

    it('runs jobs in fresh guests and keyed ones, behind the strict wall', async () => {
      const p = sandboxedPool();
      const r = await p.run({
        code: 'import json\nprint(json.dumps({"n": 6 * 7}) + " " + open("/tmp/in/data.txt").read())',
        files: { 'in/data.txt': 'given' },
      });
      expect([r.outcome, text(r), r.stderr.toString()]).toEqual(['exited', '{"n": 42} given\n', '']);
      expect(r.run?.walls).toContain('seccomp-strict');
      await p.run({ code: 'total = 40' }, { key: 'k' });
      const kept = await p.run({ code: 'total += 2\nprint(total)' }, { key: 'k' });
      expect([text(kept), kept.stderr.toString(), kept.exitCode]).toEqual(['42\n', '', 0]);
    });

    it("gives a job its argv, stdin, exit status and traceback (the job's frames only), fresh or keyed", async () => {
      const p = sandboxedPool();
      const failing = { code: 'def grade():\n    raise ValueError("wrong answer")\ngrade()\n', name: 'answer.py' };
      const tb =
        'Traceback (most recent call last):\n  File "answer.py", line 3, in <module>\n  File "answer.py", line 2, in grade\nValueError: wrong answer\n';
      for (const key of [undefined, 'k']) {
        const r = await p.run(failing, { key });
        expect([r.exitCode, r.stderr.toString()]).toEqual([1, tb]);
        const exit = await p.run({ code: 'import sys\nsys.exit("no way")' }, { key });
        expect([exit.exitCode, exit.stderr.toString()]).toEqual([1, 'no way\n']);
      }
      const argv = await p.run({
        code: 'import sys\nprint(sys.argv[1:])\nprint(sys.stdin.readline().upper())\nsys.exit(3)',
        name: 'answer.py',
        args: ['--strict'],
        stdin: 'input line\n',
      });
      expect([text(argv), argv.exitCode]).toEqual(["['--strict']\nINPUT LINE\n\n", 3]);
      // Source with non-ASCII text, with and without its own encoding declaration.
      for (const code of [
        's = u"d\u00e9j\u00e0"\nprint(len(s))',
        '# -*- coding: utf-8 -*-\ns = u"d\u00e9j\u00e0"\nprint(len(s))',
      ])
        expect(text(await p.run({ code }))).toBe('4\n');
    });
  });
}
