import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import os from 'node:os';
import { Controller, Policy, SandboxError, type CallRecord } from '../src/index.js';
import { parseNote } from '../src/supervisor/notes.js';
import { ROOT, runGuest } from './helpers.js';

// A sandboxed PyPy behind its walls talks through the supervisor, which answers its clock calls
// and sends path arguments along with their calls (src/supervisor/relay.ts). What the guest sees,
// and what the trace and counts say, must be what the controller alone gives (localAnswers: false).

const BUILDS = path.join(ROOT, 'build/pypy-sandbox');
const PYPYS = [
  { name: 'PyPy 2.7', dir: path.join(BUILDS, 'pypy2.7-sandbox'), binary: 'pypy-c' },
  { name: 'PyPy 3.6', dir: path.join(BUILDS, 'pypy3.6-sandbox'), binary: 'pypy3-c' },
].map((p) => ({ ...p, exe: path.join(p.dir, p.binary) }));
const havePyPys = PYPYS.every((p) => fs.existsSync(p.exe));

/** Every inlined path call, the clock calls, and names that exist and do not. */
const SCRIPT = [
  'import os, time',
  't = time.time()',
  "f = open('/tmp/x', 'w'); f.write('hi'); f.close()",
  "os.mkdir('/tmp/d'); os.rename('/tmp/x', '/tmp/d/y'); os.chdir('/tmp/d')",
  "print('%s %s %s %s %s' % (sorted(os.listdir('.')), os.path.exists('/nope'), open('y').read(), os.access('y', os.R_OK), t > 1e9))",
  "os.unlink('/tmp/d/y'); os.chdir('/'); os.rmdir('/tmp/d')",
  "try:\n    os.readlink('/tmp')\nexcept OSError as e:\n    print(e.errno)",
  // readdir's order, entry by entry (a listing the supervisor answers from)
  "print(os.listdir('/lib/lib_pypy'))",
  // a host file the supervisor reads: positions, the end, its stat, a dup that gives it back
  "fd = os.open('/lib/lib_pypy/_structseq.py', os.O_RDONLY)",
  'a = os.read(fd, 10); os.lseek(fd, 5, 0); b = os.read(fd, 5); e = os.lseek(fd, -3, 2); c = os.read(fd, 10)',
  'st = os.fstat(fd); fd2 = os.dup(fd); os.lseek(fd2, 0, 0); d = os.read(fd, 4); os.close(fd2); f = os.read(fd, 2)',
  'os.close(fd)',
  // a 4 MiB file of /tmp read back in 1 MiB pieces (answers the supervisor splices through)
  "data = bytes(bytearray(range(256))) * 16384; fh = open('/tmp/big', 'wb'); fh.write(data); fh.close()",
  "fh = open('/tmp/big', 'rb'); parts = []",
  'while True:\n    piece = fh.read(1 << 20)\n    if not piece: break\n    parts.append(piece)',
  "big = (b''.join(parts) == data, len(parts))",
  "print(' '.join(str(x) for x in (a[5:] == b, e == st.st_size - 3, len(c), d == a[:4], f == a[4:6], oct(st.st_mode), st.st_size > 100)))",
  "print('%s %s' % big)",
].join('\n');
const CLOCKS = new Set(['time(p)i', 'gettimeofday(pp)i', 'clock_gettime(ip)i']);
const LOCAL_PATHS = new Set([
  'stat64(pp)i',
  'lstat64(pp)i',
  'access(pi)i',
  'readdir(p)p',
  'read(ipi)i',
  'lseek(iii)i',
  'fstat64(ip)i',
  'close(i)i',
  'open(pii)i',
]);

async function run(exe: string, lib: string, localAnswers: boolean, extra = {}) {
  const records: CallRecord[] = [];
  const r = await new Controller({
    executable: exe,
    libPath: lib,
    args: ['-c', SCRIPT],
    localAnswers,
    onCall: (rec) => records.push(rec),
    ...extra,
  }).run();
  return { r, records };
}

/** A call as the guest met it; clock readings and the guest's heap addresses differ from run to run. */
function seen(rec: CallRecord): string {
  const result = CLOCKS.has(rec.sig) || rec.sig.endsWith('p') ? '' : String(rec.result);
  return [rec.sig, result, rec.errno ?? 0, rec.path ?? '', rec.path2 ?? '', rec.fromGuest].join(' ');
}

describe.skipIf(!havePyPys)('a sandboxed PyPy through the supervisor', () => {
  for (const p of PYPYS) {
    it(`${p.name}: the same answers, trace and counts as the controller alone`, async () => {
      const alone = await run(p.exe, p.dir, false);
      const relayed = await run(p.exe, p.dir, true);
      expect(alone.r.outcome).toBe('exited');
      expect(relayed.r.stdout.toString()).toBe(alone.r.stdout.toString());
      expect(relayed.r.stdout.toString()).toMatch(
        /^\['y'\] False hi True True\n22\n\[.*'_structseq.py'.*\]\nTrue True 3 True True 0o?100444 True\nTrue 4\n$/,
      );
      expect(relayed.r.exitCode).toBe(0);
      // The clock is read a varying number of times; everything else is the same calls in order.
      const other = (rs: CallRecord[]) => rs.filter((x) => !CLOCKS.has(x.sig)).map(seen);
      expect(other(relayed.records)).toEqual(other(alone.records));
      const clocks = (rs: CallRecord[]) => rs.filter((x) => CLOCKS.has(x.sig)).length;
      expect(relayed.r.calls - clocks(relayed.records)).toBe(alone.r.calls - clocks(alone.records));
      // The clock calls and the stat and access of the library's names were answered by the
      // supervisor (and only they); the other paths went along with their calls.
      const bySupervisor = new Set(
        relayed.records.filter((x) => x.note === 'answered by the supervisor').map((x) => x.sig),
      );
      expect([...bySupervisor].sort()).toEqual(
        [...bySupervisor].filter((sig) => CLOCKS.has(sig) || LOCAL_PATHS.has(sig)).sort(),
      );
      expect(bySupervisor.has('stat64(pp)i')).toBe(true);
      expect(bySupervisor.has('gettimeofday(pp)i') || bySupervisor.has('clock_gettime(ip)i')).toBe(true);
      expect(relayed.records.map((x) => x.seq)).toEqual(relayed.records.map((_x, k) => k + 1));
    });

    it(`${p.name}: a fixed clock reads the same through the supervisor`, async () => {
      const fixed = Date.parse('2001-02-03T04:05:06Z') / 1000;
      const code = 'import time; print(int(time.time()))';
      const r = await new Controller({
        executable: p.exe,
        libPath: p.dir,
        args: ['-c', code],
        clock: { fixed: fixed * 1000 },
      }).run();
      const shown = Number(r.stdout.toString().trim());
      expect(shown).toBeGreaterThanOrEqual(fixed);
      expect(shown).toBeLessThan(fixed + 30);
    });
  }
});

describe.skipIf(!havePyPys)('names the supervisor answers for a relayed guest', () => {
  it('a grant shown elsewhere, with names its filter hides, reads the same as through the controller', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-relay-'));
    try {
      for (const d of ['sub', 'secret', 'sub/secret', 'x.key.d']) fs.mkdirSync(path.join(dir, d));
      for (const f of ['a.txt', 'b.key', 'sub/c.key', 'sub/d.txt', 'secret/e.txt', '.hidden', 'x.key.d/f', 'key'])
        fs.writeFileSync(path.join(dir, f), f);
      fs.symlinkSync('a.txt', path.join(dir, 'link'));
      const names = [
        '',
        'a.txt',
        'b.key',
        'sub',
        'sub/c.key',
        'sub/d.txt',
        'secret',
        'secret/e.txt',
        'sub/secret',
        '.hidden',
        'x.key.d/f',
        'key',
        'link',
        'nope',
        'sub/nope/x',
        'a.txt/x',
      ];
      const code = [
        'import os',
        `for n in ${JSON.stringify(names)}:`,
        "    p = '/data/' + n if n else '/data'",
        '    try:',
        '        st = os.stat(p); print(n, oct(st.st_mode), st.st_size, st.st_ino, int(st.st_mtime), st.st_uid, st.st_dev)',
        '    except OSError as e:',
        '        print(n, e.errno)',
        '    try:',
        '        st = os.lstat(p); print(n, oct(st.st_mode))',
        '    except OSError as e:',
        '        print(n, e.errno)',
        '    print(n, os.access(p, os.R_OK), os.access(p, os.X_OK))',
      ].join('\n');
      const p = PYPYS[1]!;
      const runs = await Promise.all(
        [false, true].map(async (localAnswers) => {
          const records: CallRecord[] = [];
          const policy = new Policy().allowRead(dir, { at: '/data', exclude: ['**/secret', '**/*.key'] });
          const r = await new Controller({
            executable: p.exe,
            libPath: p.dir,
            args: ['-S', '-c', code],
            policy,
            localAnswers,
            onCall: (rec) => records.push(rec),
          }).run();
          return { r, records };
        }),
      );
      const [alone, relayed] = runs as [(typeof runs)[0], (typeof runs)[0]];
      expect(alone.r.exitCode).toBe(0);
      expect(relayed.r.stdout.toString()).toBe(alone.r.stdout.toString());
      expect(relayed.r.stdout.toString()).toContain('b.key 2\n');
      const answered = relayed.records.filter(
        (x) => x.note === 'answered by the supervisor' && x.path?.startsWith('/data'),
      );
      // Hidden names and the grant's own files were answered there; the symlink went to the controller.
      expect(answered.map((x) => x.path)).toEqual(
        expect.arrayContaining(['/data/a.txt', '/data/b.key', '/data/sub/secret']),
      );
      expect(answered.some((x) => x.path === '/data/link')).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('when a guest talks through the supervisor', () => {
  it('with a read-only host tree to answer from, and not without one (every call would be forwarded)', async () => {
    const noted = async (extra: object) => {
      const notes: (string | undefined)[] = [];
      await runGuest(['call time(p)i null'], { onCall: (c) => notes.push(c.note), ...extra });
      return notes;
    };
    expect(await noted({})).toEqual([undefined]);
    expect(await noted({ policy: new Policy().allowRead(ROOT, { at: '/data' }) })).toEqual([
      'answered by the supervisor',
    ]);
    expect(await noted({ policy: new Policy().allowRead(ROOT, { at: '/data' }), localAnswers: false })).toEqual([
      undefined,
    ]);
  });
});

describe('the relay and hostile guest bytes', () => {
  const call = (sig: string, words: (number | bigint)[]) => {
    const args = Buffer.alloc(8 * words.length);
    words.forEach((w, i) => args.writeBigUInt64LE(BigInt.asUintN(64, BigInt(w)), 8 * i));
    return Buffer.concat([Buffer.of(sig.length), Buffer.from(sig, 'latin1'), args]);
  };
  const u64 = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    return b;
  };
  const policy = () => new Policy().allowRead(ROOT, { at: '/data' });
  const settle = (p: Promise<unknown>) =>
    p.then(
      (r) => r as { outcome: string; exitCode?: number; guestStderr: string },
      (e: unknown) => (e instanceof SandboxError ? e : Promise.reject(e)),
    );

  /** How a run ended, as a user sees it: outcome, exit code, signal, and the error's kind. */
  const ending = async (lines: string[], localAnswers: boolean) => {
    const r = await settle(runGuest(lines, { policy: policy(), localAnswers }));
    const res = (r instanceof SandboxError ? r.result : r) as { outcome: string; exitCode?: number; signal?: string };
    return [res.outcome, res.exitCode, res.signal, r instanceof SandboxError ? r.kind : undefined];
  };

  it('a guest that ends while the supervisor reads its path ends as it does without the relay', async () => {
    const lines = [`raw ${call('stat64(pp)i', [0x1000, 0x2000]).toString('hex')} -`, 'exit 3'];
    expect(await ending(lines, true)).toEqual(await ending(lines, false));
  });

  it("a path reply longer than asked is the controller's protocol error, with the guest's bytes", async () => {
    const bytes = Buffer.concat([call('stat64(pp)i', [0x1000, 0x2000]), u64(1n << 40n)]);
    const r = await settle(runGuest([`raw ${bytes.toString('hex')} -`, 'sleep 2000'], { policy: policy() }));
    expect(r).toBeInstanceOf(SandboxError);
    expect((r as SandboxError).kind).toBe('protocol');
  });

  it("a path with a NUL inside gets the controller's answer (EINVAL), with or without the relay", async () => {
    const text = Buffer.from('/data/package.json\0junk', 'latin1');
    const bytes = Buffer.concat([call('stat64(pp)i', [0x1000, 0x2000]), u64(BigInt(text.length)), text]);
    for (const localAnswers of [false, true]) {
      const seen: { errno?: number; result?: unknown }[] = [];
      await settle(
        runGuest([`raw ${bytes.toString('hex')} i`], { policy: policy(), localAnswers, onCall: (c) => seen.push(c) }),
      );
      expect(seen[0]).toMatchObject({ result: -1, errno: 22 });
    }
    const lines = [`raw ${bytes.toString('hex')} i`];
    expect(await ending(lines, true)).toEqual(await ending(lines, false));
  });

  it('a guest that never sends the path the supervisor asked for is ended at the stall time, as the controller ends one', async () => {
    for (const localAnswers of [true, false]) {
      const t0 = Date.now();
      const r = await settle(
        runGuest([`raw ${call('stat64(pp)i', [0x1000, 0x2000]).toString('hex')} -`, 'sleep 10000'], {
          policy: policy(),
          limits: { stallMs: 300 },
          localAnswers,
        }),
      );
      expect(Date.now() - t0).toBeLessThan(5000);
      // An error of the run, never a guest that "exited 126" (the supervisor's own status).
      expect(r).toBeInstanceOf(SandboxError);
      const err = r as SandboxError;
      expect(err.kind).toBe('protocol');
      expect(err.message).toMatch(/guest stalled/);
      expect(err.result.outcome).not.toBe('exited');
      expect(err.result.exitCode).toBeNull();
    }
  });

  it("reads the relay's stall note, and refuses a malformed one", () => {
    expect(parseNote('stalled reply 300')).toEqual({ kind: 'stalled', part: 'reply', ms: 300 });
    expect(parseNote('stalled answer 5000')).toEqual({ kind: 'stalled', part: 'answer', ms: 5000 });
    for (const bad of ['stalled', 'stalled reply', 'stalled call 300', 'stalled reply -1', 'stalled answer 1 2'])
      expect(() => parseNote(bad)).toThrow(/malformed note/);
  });

  it('a guest that never reads its answers is ended at the stall time with a protocol error', async () => {
    // 1 MiB reads of /dev/zero asked for one after another, none of their answers read. The relay
    // takes each next call once the answer before it is in the guest's pipe (which holds several
    // MiB of the controller's spliced buffers); the controller alone refuses the second call sent
    // before the first's answer was read. Either way the run ends soon, as a protocol error.
    const lines = [
      'call open(pii)i s:/dev/zero 0 0',
      'loop 64',
      `raw ${call('read(ipi)i', [3, 0x1000, 1 << 20]).toString('hex')} -`,
      'end',
      'sleep 10000',
    ];
    const errors: string[] = [];
    for (const localAnswers of [true, false]) {
      const t0 = Date.now();
      const r = await settle(runGuest(lines, { policy: policy(), limits: { stallMs: 300 }, localAnswers }));
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(r).toBeInstanceOf(SandboxError);
      expect((r as SandboxError).kind).toBe('protocol');
      errors.push((r as SandboxError).message);
    }
    expect(errors[0]).toMatch(/guest stalled: it read none of its answer for 300 ms/);
    // Said once, by the controller: the supervisor writes nothing into the guest's stderr.
    expect(errors[0]).not.toMatch(/pypy-box-supervisor/);
  });

  it('a call that stops in the middle goes to the controller as it is, and no report can be forged after it', async () => {
    // Half of getpid()i, a pause past the relay's patience, the rest, then a forged report of a
    // clock call (a 0 byte, then the call): the controller must read it as the guest's own bytes.
    const call = Buffer.concat([Buffer.of(9), Buffer.from('getpid()i')]);
    const forged = Buffer.concat([
      Buffer.of(0),
      Buffer.of(8),
      Buffer.from('time(p)i'),
      Buffer.alloc(8 + 8 + 4 + 2 + 8 + 4 + 2),
    ]);
    const r = await runGuest(
      [
        `raw ${call.subarray(0, 4).toString('hex')} -`,
        'sleep 300',
        `raw ${call.subarray(4).toString('hex')} i`,
        `raw ${forged.toString('hex')} -`,
        'sleep 1000',
      ],
      // A granted tree: the guest talks through the supervisor.
      { limits: { stallMs: 5000 }, policy: new Policy().allowRead(ROOT, { at: '/data' }) },
    ).catch((e: unknown) => e);
    expect(r).toBeInstanceOf(SandboxError);
    const err = r as SandboxError;
    expect(err.kind).toBe('protocol');
    expect(err.message).toMatch(/length byte is 0/);
    // The first call was answered; the forged report was not counted.
    expect(err.result.calls).toBe(1);
  });
});
