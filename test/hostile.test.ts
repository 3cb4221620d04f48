import { execa } from 'execa';
import { supervisorPath } from '../src/supervisor/locate.js';
import { findInterpreter } from '../src/guest/profile.js';
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Controller, Errno, SandboxError, type RunResult } from '../src/index.js';
import { fakeGuest, rng } from './fake-guest.js';
import { childPids, GUEST, healthy, openFds, outcome, results, ROOT, runGuest } from './helpers.js';

/** Hex of one raw call, for the guest's `raw` script line. */
function rawCall(sig: string, words: number[] = []): string {
  const args = Buffer.alloc(8 * words.length);
  words.forEach((w, k) => args.writeBigInt64LE(BigInt(w), 8 * k));
  return Buffer.concat([Buffer.of(sig.length), Buffer.from(sig, 'latin1'), args]).toString('hex');
}

describe('hostile guests through the C test guest', () => {
  it('a truncated message is a protocol error with the bytes', async () => {
    await closeSpareSupervisor(); // an intended idle process: not a leak
    const before = openFds();
    const err = await outcome(runGuest([`raw ${rawCall('read(ipi)i', [0, 0, 0]).slice(0, 30)} -`]));
    expect(err).toBeInstanceOf(SandboxError);
    expect((err as SandboxError).kind).toBe('protocol');
    expect((err as SandboxError).message).toMatch(/middle of a call.*72 65 61 64/s);
    await healthy(before);
  });

  it.each([
    ['a length byte of 0', '00', /length byte is 0/],
    ['an unknown kind letter', rawCall('f(ixi)i', [1, 2, 3]), /unknown argument kind 'x'/],
    ['33 arguments', rawCall(`f(${'i'.repeat(33)})i`, Array(33).fill(1)), /33 arguments/],
    ['text after the result kind', rawCall('getpid()ii'), /bad result kind/],
    ['no parentheses', rawCall('getpid'), /malformed call signature/],
  ])('%s kills the guest with a protocol error', async (_name, hex, message) => {
    await closeSpareSupervisor(); // an intended idle process: not a leak
    const before = openFds();
    const err = await outcome(runGuest([`raw ${hex} -`, 'sleep 2000']));
    expect(err).toBeInstanceOf(SandboxError);
    expect((err as SandboxError).kind).toBe('protocol');
    expect((err as SandboxError).message).toMatch(message);
    expect((err as SandboxError).result.outcome).toBe('killed');
    await healthy(before);
  });

  it('a result-kind mismatch makes the guest abort, reported with its stderr', async () => {
    const r = await runGuest([`raw ${rawCall('getpid()i')} p`]);
    expect(r).toMatchObject({ outcome: 'signaled', signal: 'SIGABRT' });
    expect(r.guestStderr).toContain('result kind does not match');
  });

  it('paths without NUL, longer than the maximum, and .. chains', async () => {
    const r = await runGuest([
      'fill p a 100000',
      'call open(pii)i b:p 0 0',
      'call open(pii)i s:/../../../../../../etc/passwd 0 0',
      'call stat64(pp)i s:/tmp/../../../.. null',
      'buf st 144',
      'call stat64(pp)i s:/tmp/../../../../tmp b:st',
    ]);
    expect(results(r.lines)).toEqual([
      { value: -1n, errno: Errno.ENAMETOOLONG },
      { value: -1n, errno: Errno.EACCES }, // outside the sandbox's filesystem
      { value: -1n, errno: Errno.EFAULT }, // "/" exists; the NULL buffer is refused before any write
      { value: 0n, errno: Errno.EFAULT },
    ]);
  });

  it('reads of 2^62 bytes and negative counts get bounded answers', async () => {
    const r = await runGuest(
      [
        'buf b 70000',
        'call open(pii)i s:/dev/zero 0 0',
        'call read(ipi)i 3 b:b 0x4000000000000000',
        'call read(ipi)i 3 b:b -1',
        'call write(ipi)i 1 b:b -7',
      ],
      { limits: { ioChunkBytes: 65536 } },
    );
    expect(results(r.lines).slice(1)).toEqual([
      { value: 65536n, errno: 0 },
      { value: -1n, errno: Errno.EINVAL },
      { value: -1n, errno: Errno.EINVAL },
    ]);
  });

  it('opening files and directories until the caps gives EMFILE, not exhaustion', async () => {
    await closeSpareSupervisor(); // an intended idle process: not a leak
    const before = openFds();
    const r = await runGuest(
      ['loop 40', 'call open(pii)i s:/dev/null 0 0', 'end', 'loop 20', 'call opendir(p)p s:/tmp', 'end'],
      { limits: { openFiles: 32, openDirs: 8 } },
    );
    const res = results(r.lines);
    expect(res.slice(0, 29).every((x) => x.value >= 3n)).toBe(true);
    expect(res.slice(29, 40).every((x) => x.value === -1n && x.errno === Errno.EMFILE)).toBe(true);
    expect(res.slice(40, 48).every((x) => x.value !== 0n)).toBe(true);
    expect(res.slice(48).every((x) => x.value === 0n && x.errno === Errno.EMFILE)).toBe(true);
    expect(r.limitsReached).toEqual(
      expect.arrayContaining([
        { name: 'open-files', value: 32, calls: 11 },
        { name: 'open-dirs', value: 8, calls: 12 },
      ]),
    );
    await healthy(before);
  });

  it('writes beyond the /tmp quota fail with ENOSPC', async () => {
    const r = await runGuest(
      [
        'quiet',
        'fill x A 65536',
        'call open(pii)i s:/tmp/big 577 420',
        'loop 40',
        'call write(ipi)i 3 b:x 65536',
        'end',
        'loud',
        'call write(ipi)i 3 b:x 65536',
      ],
      { limits: { tmpBytes: 1 << 20 } },
    );
    expect(results(r.lines).at(-1)).toEqual({ value: -1n, errno: Errno.ENOSPC });
    expect(r.limitsReached).toContainEqual(expect.objectContaining({ name: 'tmp-quota', value: 1 << 20 }));
    expect(r.vfs.snapshot('/tmp').big!.length).toBeLessThanOrEqual(1 << 20);
  });

  it('100 MB of output streams through with bounded controller memory', async () => {
    let bytes = 0;
    const rssBefore = process.memoryUsage().rss;
    const r = await runGuest(['quiet', 'fill x A 1048576', 'loop 100', 'call write(ipi)i 1 b:x 1048576', 'end'], {
      stdout: (b) => (bytes += b.length),
      limits: { outputBytes: 0 },
    });
    expect(r.outcome).toBe('exited');
    expect(bytes).toBe(100 * 1024 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(150 * 1024 * 1024);
  });

  it('an escape outside the protocol meets the seccomp wall: refused with an errno, the guest goes on', async () => {
    const r = await runGuest(['call getpid()i', 'sys 2 s:/etc/passwd 0', 'sys 41 2 1 0', 'call getpid()i']);
    expect(r.outcome).toBe('exited');
    expect(r.lines).toEqual(expect.arrayContaining([`SYS -1 errno=${Errno.EACCES}`, `SYS -1 errno=${Errno.EPERM}`]));
    expect(results(r.lines)).toHaveLength(2); // the call after the refusals was answered
    expect(r.walls).toEqual(
      expect.arrayContaining(['seccomp-strict', 'no-new-privs', 'rlimits', 'parent-death-signal']),
    );
    const off = await runGuest(['call getpid()i'], { walls: false });
    expect(off.walls).toEqual([]);
  });

  it('runs in a PID namespace of its own where the kernel allows it', async () => {
    const r = await runGuest(['sys 39']); // the real getpid(): allowed by the wall
    if (!r.walls.includes('pid-ns')) return; // a kernel without user namespaces: nothing to check
    expect(r.lines).toContain('SYS 2 errno=0');
  });
});

describe('a guest that sends calls and never reads the answers', () => {
  it('is stopped before its answers pile up in the controller', async () => {
    const call = Buffer.concat([Buffer.of(9), Buffer.from('getpid()i')]);
    const batch = Buffer.concat(Array.from({ length: 100_000 }, () => call));
    const stdout = new PassThrough();
    const stdin = new PassThrough({ highWaterMark: 1 });
    stdin.pause(); // never read
    const stderr = new PassThrough();
    let stop = false;
    let settle!: (v: { signal?: string }) => void;
    const done = new Promise<{ signal?: string }>((r) => (settle = r));
    const pump = () => {
      if (stop) return;
      stdout.write(batch);
      setImmediate(pump);
    };
    pump();
    const kill = () => {
      stop = true;
      stdout.end();
      stderr.end();
      settle({ signal: 'SIGKILL' });
    };
    const err = await outcome(
      new Controller({
        executable: '(flood)',
        transport: () => ({ stdin, stdout, stderr, kill, done }),
        timeout: 20_000,
      }).run(),
    );
    expect(err).toBeInstanceOf(SandboxError);
    expect((err as SandboxError).kind).toBe('protocol');
    expect((err as SandboxError).message).toMatch(/answers unread/);
  });
});

describe('fuzzing the controller with 10,000 seeded streams', () => {
  const valid = (r: ReturnType<typeof rng>): Buffer => {
    const calls: [string, number[]][] = [
      ['getpid()i', []],
      ['open(pii)i', [0x1000, 0, 0]],
      ['read(ipi)i', [3, 0x2000, 100]],
      ['write(ipi)i', [1, 0x2000, 20]],
      ['stat64(pp)i', [0x1000, 0x3000]],
      ['opendir(p)p', [0x1000]],
      ['readdir(p)p', [0x7f00_0000_0000]],
      ['getenv(p)p', [0x1000]],
      ['get_environ()p', []],
      ['lseek(iii)i', [3, -5, 1]],
      ['close(i)i', [3]],
      ['mkdir(pi)i', [0x1000, 0o777]],
      ['unlink(p)i', [0x1000]],
      ['time(p)i', [0]],
      ['getcwd(pi)p', [0x4000, 10]],
      ['uname(p)i', [0x5000]],
      ['frob(ffp)v', [1, 2, 3]],
      ['_pypy_init_home()p', []],
    ];
    const parts: Buffer[] = [];
    for (let k = 0, n = 1 + r.int(8); k < n; k++) {
      const [sig, words] = r.pick(calls);
      parts.push(
        Buffer.from(
          rawCall(
            sig,
            words.map((w) => (r.next() < 0.1 ? r.int(2 ** 31) - 2 ** 30 : w)),
          ),
          'hex',
        ),
      );
    }
    return Buffer.concat(parts);
  };
  const mutate = (b: Buffer, r: ReturnType<typeof rng>): Buffer => {
    const out = Buffer.from(b);
    for (let k = 0, n = 1 + r.int(4); k < n && out.length; k++) {
      const at = r.int(out.length);
      const op = r.int(3);
      if (op === 0) out[at] = r.int(256);
      else if (op === 1) return Buffer.concat([out.subarray(0, at), Buffer.of(r.int(256)), out.subarray(at)]);
      else return out.subarray(0, at);
    }
    return out;
  };

  it('every stream ends with the guest killed or answered, the controller healthy, nothing leaked', async () => {
    await closeSpareSupervisor(); // an intended idle process: not a leak
    const fdsBefore = openFds();
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const r = rng(20261124);
    const kinds = new Map<string, number>();
    const CASES = 10_000;
    let next = 0;
    const worker = async () => {
      while (next < CASES) {
        const k = next++;
        const choice = r.int(3);
        const stream =
          choice === 0
            ? Buffer.from(Array.from({ length: r.int(300) }, () => r.int(256)))
            : choice === 1
              ? valid(r)
              : mutate(valid(r), r);
        const res = await outcome(
          new Controller({
            executable: '(fuzz)',
            transport: () => fakeGuest(stream, k + 1),
            timeout: 5000,
            limits: { openFiles: 16, openDirs: 4, tmpBytes: 1 << 16 },
          }).run(),
        );
        const key = res instanceof SandboxError ? `error:${res.kind}` : res.outcome;
        kinds.set(key, (kinds.get(key) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const total = [...kinds.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(CASES);
    // Only these endings exist: the guest exits, a limit ends it, or the controller ends it for a
    // protocol violation. Never a hang (timeout), never an internal error.
    for (const key of kinds.keys()) expect(['exited', 'limit', 'error:protocol']).toContain(key);
    expect(kinds.get('error:protocol')).toBeGreaterThan(1000);
    expect(kinds.get('exited')).toBeGreaterThan(1000);
    await closeSpareSupervisor();
    expect(openFds()).toEqual(fdsBefore);
    global.gc?.();
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(200 * 1024 * 1024);
  }, 300_000);
});

describe('load', () => {
  const script = (id: number) => [
    `call open(pii)i s:/tmp/id.txt 577 420`,
    `call write(ipi)i 3 s:guest-${id} ${`guest-${id}`.length}`,
    'call close(i)i 3',
    'buf b 64',
    'call open(pii)i s:/tmp/id.txt 0 0',
    'call read(ipi)i 3 b:b 64',
    'call write(ipi)i 1 b:b r',
  ];
  const check = (r: RunResult, id: number) => {
    expect(r.stdout.toString()).toBe(`guest-${id}`);
    expect(Object.keys(r.vfs.snapshot('/tmp'))).toEqual(['id.txt']);
  };

  it('runs 50 guests concurrently without cross-talk', async () => {
    await closeSpareSupervisor(); // an intended idle process: not a leak
    const before = openFds();
    const runs = await Promise.all(
      Array.from({ length: 50 }, (_, id) => new Controller({ executable: GUEST, args: script(id) }).run()),
    );
    runs.forEach(check);
    await closeSpareSupervisor();
    expect(openFds()).toEqual(before);
    expect(childPids()).toEqual([]);
  });

  it('runs 1,000 guests one after another without leaks', async () => {
    await closeSpareSupervisor(); // an intended idle process: not a leak
    const before = openFds();
    const rss = process.memoryUsage().rss;
    for (let id = 0; id < 1000; id++) check(await new Controller({ executable: GUEST, args: script(id) }).run(), id);
    await closeSpareSupervisor();
    expect(openFds()).toEqual(before);
    expect(childPids()).toEqual([]);
    expect(process.memoryUsage().rss - rss).toBeLessThan(200 * 1024 * 1024);
  }, 300_000);
});

describe('no orphans', () => {
  /**
   * A process with the token as one whole argument: the guest (or its supervisor). Not a substring:
   * the parent's own `-e` code holds the token too, and so does a child of it between fork and exec.
   */
  const alive = (token: string) =>
    fs
      .readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .some((p) => {
        try {
          return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes(token);
        } catch {
          return false;
        }
      });

  it.each([
    [
      'a sandboxed-protocol guest',
      (token: string) => `{ executable: ${JSON.stringify(GUEST)}, args: ['sleep 30000', '${token}'] }`,
    ],
    [
      'a stock interpreter',
      (token: string) => `{ python: 'python3', args: ['-c', 'import time; time.sleep(30)', '${token}'] }`,
    ],
  ])('%s dies when the controller process is killed with SIGKILL', async (_name, options) => {
    const token = `orphan-check-${process.pid}-${Date.now()}`;
    const code = `import('${path.join(ROOT, 'dist/src/index.js')}').then(({ Controller }) => new Controller(${options(token)}).run())`;
    const parent = execa(process.execPath, ['-e', code], { reject: false });
    let started = false;
    for (let k = 0; k < 600 && !started && parent.exitCode === null; k++) {
      await new Promise((r) => setTimeout(r, 50));
      started = alive(token);
    }
    parent.kill('SIGKILL');
    const ended = await parent;
    expect(started, `the guest never started; the controller process said: ${ended.all ?? ended.stderr}`).toBe(true);
    for (let k = 0; k < 200 && alive(token); k++) await new Promise((r) => setTimeout(r, 50));
    expect(alive(token)).toBe(false);
  });

  /** Ends the supervisor under a parent that never reaps strangers; what is left below that parent. */
  const leftAfter = async (signal: number) => {
    const pypy = findInterpreter('pypy3') ?? findInterpreter('python3');
    const r = await execa(path.join(ROOT, 'build/test/reaper'), [
      String(signal),
      supervisorPath(),
      '--nofile',
      '832',
      '--config-stdin',
      '--',
      pypy!,
      pypy!,
      '-c',
      'import time; time.sleep(30)',
    ]);
    const [, left, zombies] = /left (\d+) zombies (\d+)/.exec(r.stdout)!;
    return { left: Number(left), zombies: Number(zombies) };
  };

  it('a spare supervisor ended unused leaves no zombie of its waiting child for a pid 1 that never reaps', async () => {
    const r = await execa(path.join(ROOT, 'build/test/reaper'), ['0', supervisorPath(), '--standby', 'stock']);
    expect(r.stdout).toBe('left 0 zombies 0');
  });

  it('a run ended by the controller (SIGTERM) leaves no zombie for a pid 1 that never reaps', async () => {
    expect(await leftAfter(15)).toEqual({ left: 0, zombies: 0 });
    // What SIGKILL of the supervisor alone would leave there (the harness does see it).
    expect((await leftAfter(9)).left).toBeGreaterThan(0);
  });
});
