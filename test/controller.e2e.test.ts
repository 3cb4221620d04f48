import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Controller, Errno, Policy, readTrace, SandboxError, VirtualFS, type CallRecord } from '../src/index.js';
import { FIXTURES, GUEST, results, runGuest } from './helpers.js';

const PROJECT = path.join(FIXTURES, 'project');

describe('Controller with the C test guest', () => {
  it('answers identity calls and proxies stdout and stderr writes', async () => {
    const r = await runGuest(
      ['call getpid()i', 'call getuid()i', 'call write(ipi)i 1 s:out\\n 4', 'call write(ipi)i 2 s:err\\n 4'],
      { identity: { pid: 77, uid: 5 } },
    );
    expect(r.outcome).toBe('exited');
    expect(r.exitCode).toBe(0);
    expect(results(r.lines).map((x) => x.value)).toEqual([77n, 5n, 4n, 4n]);
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr.toString()).toBe('err\n');
    expect(r.calls).toBe(4);
  });

  it('serves stdin from a buffer and from a stream, then end of file', async () => {
    const script = ['buf b 64', 'call read(ipi)i 0 b:b 64', 'text b r', 'call read(ipi)i 0 b:b 64'];
    const a = await runGuest(script, { stdin: 'typed input' });
    expect(a.lines).toContain('TEXT typed input');
    expect(results(a.lines).at(-1)!.value).toBe(0n);
    const stream = new PassThrough();
    setTimeout(() => stream.end('from a stream'), 50);
    const b = await runGuest(script, { stdin: stream });
    expect(b.lines).toContain('TEXT from a stream');
  });

  it('opens, reads, seeks and stats a granted host file, and denies others with the reason', async () => {
    const policy = new Policy().allowRead(PROJECT, { at: '/project' });
    const r = await runGuest(
      [
        'call open(pii)i s:/project/data/numbers.csv 0 0',
        'save fd',
        'buf b 100',
        'call read(ipi)i v:fd b:b 7',
        'text b r',
        'call lseek(iii)i v:fd -4 2',
        'call read(ipi)i v:fd b:b 100',
        'text b r',
        'buf st 144',
        'call fstat64(ip)i v:fd b:st',
        'u64 st 48',
        'u32 st 24',
        'call close(i)i v:fd',
        'call close(i)i v:fd',
        'call open(pii)i s:/project/.env 0 0',
        'call open(pii)i s:/project/link-outside/passwd 0 0',
      ],
      { policy },
    );
    expect(r.lines).toContain('TEXT n,squar');
    expect(r.lines).toContain('TEXT 3,9\n'.replace('\n', ''));
    expect(r.lines).toContain('u64 21'); // st_size of numbers.csv
    expect(r.lines).toContain(`u32 ${0o100444}`); // regular file, write bits removed
    const res = results(r.lines);
    expect(res[5]).toEqual({ value: 0n, errno: 0 });
    expect(res[6]).toEqual({ value: -1n, errno: Errno.EBADF });
    expect(res[7]).toEqual({ value: -1n, errno: Errno.ENOENT });
    expect(res[8]).toEqual({ value: -1n, errno: Errno.EACCES });
  });

  it('lists directories through opendir/readdir/closedir with struct dirent', async () => {
    const policy = new Policy().allowRead(PROJECT, { at: '/project' });
    const lines = ['call opendir(p)p s:/project/src', 'save d'];
    for (let k = 0; k < 4; k++) lines.push('call readdir(p)p v:d', 'u8 d 18');
    lines.push('call readdir(p)p v:d', 'call closedir(p)i v:d', 'call opendir(p)p s:/nonexistent');
    const r = await runGuest(lines, { policy });
    const res = results(r.lines);
    expect(res[0]!.value).not.toBe(0n);
    expect(res[5]!.value).toBe(0n); // end of stream
    expect(res[6]!.value).toBe(0n); // closedir -> 0
    expect(res[7]).toEqual({ value: 0n, errno: Errno.EACCES }); // outside the sandbox's filesystem
    // d_type of '.', '..', 'main.py' and 'pkg' (sorted by the host): DT_DIR 4, DT_REG 8.
    expect(r.lines.filter((l) => l.startsWith('u8 ')).sort()).toEqual(['u8 4', 'u8 4', 'u8 4', 'u8 8']);
  });

  it('gives cwd, environment, uname and clocks from the virtual world', async () => {
    const r = await runGuest(
      [
        'buf cwd 64',
        'call getcwd(pi)p b:cwd 64',
        'text cwd 4',
        'call chdir(p)i s:/dev',
        'call getcwd(pi)p b:cwd 64',
        'text cwd 4',
        'call getcwd(pi)p b:cwd 2',
        'call getenv(p)p s:GREETING',
        'save g',
        'str g',
        'call getenv(p)p s:HOME',
        'call get_environ()p',
        'save env',
        'u64 env 16',
        'call getenv(p)p s:PYTHONDONTWRITEBYTECODE',
        'save b',
        'str b',
        'buf uts 390',
        'call uname(p)i b:uts',
        'text uts 5',
        'call time(p)i null',
        'buf tv 16',
        'call gettimeofday(pp)i b:tv null',
        'u64 tv 0',
        'call _pypy_init_home()p',
        'save h',
        'str h',
        'call _pypy_init_free(p)v v:h',
      ],
      { env: { GREETING: 'hello there' }, clock: { fixed: '2020-01-01T00:00:00Z' }, argv0: '/opt/pypy/bin/pypy' },
    );
    // The environment given, NULL-terminated, plus the bytecode-cache switch a sandboxed PyPy gets by default.
    expect(r.lines).toEqual(
      expect.arrayContaining([
        'TEXT /tmp',
        'TEXT /dev',
        'STR hello there',
        'u64 0',
        'STR 1',
        'TEXT Linux',
        'STR /opt/pypy/bin/pypy',
      ]),
    );
    const res = results(r.lines);
    expect(res[3]).toEqual({ value: 0n, errno: Errno.ERANGE });
    expect(res[5]).toEqual({ value: 0n, errno: Errno.ERANGE }); // getenv HOME: NULL, errno untouched
    const t = Number(res[9]!.value);
    expect(t).toBeGreaterThanOrEqual(1577836800);
    expect(t).toBeLessThan(1577836800 + 60);
    expect(r.lines).toContain(`u64 ${t}`);
  });

  it('answers isatty with ENOTTY when not a terminal, and 1 when told it is', async () => {
    const a = await runGuest(['call isatty(i)i 1', 'call isatty(i)i 9']);
    expect(results(a.lines)).toEqual([
      { value: 0n, errno: Errno.ENOTTY },
      { value: -1n, errno: Errno.EBADF },
    ]);
    const b = await runGuest(['call isatty(i)i 0'], { tty: true });
    expect(results(b.lines)[0]!.value).toBe(1n);
  });

  it('answers an unknown call with ENOSYS and records it', async () => {
    const r = await runGuest(['call frobnicate(ii)i 1 2', 'call getpid()i']);
    expect(results(r.lines)[0]).toEqual({ value: -1n, errno: Errno.ENOSYS });
    expect(r.unknownCalls).toEqual({ 'frobnicate(ii)i': 1 });
    expect(r.outcome).toBe('exited');
  });

  it('fails closed on an unknown call when asked to, naming the signature', async () => {
    const err = await runGuest(['call frobnicate(ii)i 1 2'], { unknownCalls: 'fail' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SandboxError);
    expect((err as SandboxError).kind).toBe('unsupported-call');
    expect((err as SandboxError).message).toContain('frobnicate(ii)i');
    expect((err as SandboxError).result.outcome).toBe('killed');
  });

  it('lets custom handlers override or add signatures', async () => {
    const r = await runGuest(['call getpid()i', 'call answer(i)i 2'], {
      handlers: { 'getpid()i': () => 1234, 'answer(i)i': (_ctx, [x]) => Number(x) * 21 },
    });
    expect(results(r.lines).map((x) => x.value)).toEqual([1234n, 42n]);
  });

  it('kills the guest on a protocol violation and shows the offending bytes', async () => {
    const err = (await runGuest(['raw 00dead -']).catch((e: unknown) => e)) as SandboxError;
    expect(err).toBeInstanceOf(SandboxError);
    expect(err.kind).toBe('protocol');
    expect(err.message).toMatch(/length byte is 0.*00 de ad/s);
  });

  it('reports _exit(status) as the exit code', async () => {
    const r = await runGuest(['call _exit(i)v 7', 'call getpid()i']);
    expect(r).toMatchObject({ outcome: 'exited', exitCode: 7 });
    expect(r.calls).toBe(1);
  });

  it('reports crashes with the signal name and the guest stderr', async () => {
    const s = await runGuest(['crash segv']);
    expect(s).toMatchObject({ outcome: 'signaled', signal: 'SIGSEGV', signalDescription: 'Segmentation fault' });
    const r = await runGuest(['call write(ipi)i 1 0x10 8']); // a bad pointer: the guest cannot serve the R command
    expect(r).toMatchObject({ outcome: 'signaled', signal: 'SIGABRT', signalDescription: 'Aborted' });
    expect(r.guestStderr).toContain('write to controller failed');
    const a = await runGuest(['crash abort']);
    expect(a).toMatchObject({ outcome: 'signaled', signal: 'SIGABRT' });
    const m = await runGuest(['raw 09676574706964282969 v']); // getpid()i answered as 'i', guest expected 'v'
    expect(m.outcome).toBe('signaled');
    expect(m.guestStderr).toContain('result kind does not match');
  });

  it('ends an endless guest at the timeout and says so', async () => {
    const r = await runGuest(['quiet', 'loop 100000000', 'call getpid()i', 'end'], { timeout: 300 });
    expect(r).toMatchObject({ outcome: 'timeout', timedOut: true, limit: { name: 'timeout', value: 300 } });
  });

  it('stops a guest that writes more than the output cap', async () => {
    const r = await runGuest(['quiet', 'fill x A 65536', 'loop 100', 'call write(ipi)i 1 b:x 65536', 'end'], {
      limits: { outputBytes: 200_000 },
    });
    expect(r).toMatchObject({ outcome: 'limit', limit: { name: 'output', value: 200_000 } });
    expect(r.stdout.length).toBe(200_000);
  });

  it('serves huge read requests in bounded chunks', async () => {
    const policy = new Policy().allowRead(PROJECT, { at: '/project' });
    const r = await runGuest(
      [
        'buf b 2000000',
        'call open(pii)i s:/project/data/large.bin 0 0',
        'call read(ipi)i 3 b:b 0x4000000000000000',
        'call read(ipi)i 3 b:b -5',
      ],
      { policy, limits: { ioChunkBytes: 1_000_000 } },
    );
    const res = results(r.lines);
    expect(res[1]!.value).toBe(1_000_000n);
    expect(res[2]).toEqual({ value: -1n, errno: Errno.EINVAL });
  });

  it('reads large in-memory files byte for byte, in the read-only tree and in /tmp', async () => {
    // Every byte differs from its neighbours, so a wrong offset or a short copy shows.
    const size = 3 * 1024 * 1024 + 12345;
    const data = Buffer.alloc(size);
    for (let k = 0; k < size; k++) data[k] = (k * 7 + (k >> 12)) & 0xff;
    const vfs = new VirtualFS();
    vfs.mountTmp('/tmp');
    vfs.addFile('/data/big', data);
    const copy = (file: string, chunk: number) => [
      `buf b ${chunk}`,
      `call open(pii)i s:${file} 0 0`,
      'save fd',
      `loop ${Math.ceil(size / chunk) + 1}`,
      `call read(ipi)i v:fd b:b ${chunk}`,
      'call write(ipi)i 1 b:b r',
      'end',
      'call lseek(iii)i v:fd 1000000 0',
      'call read(ipi)i v:fd b:b 20000',
      'call write(ipi)i 1 b:b r',
      'call lseek(iii)i v:fd 5 2',
      'call read(ipi)i v:fd b:b 20000',
    ];
    for (const chunk of [1 << 20, 65536, 20000]) {
      const r = await runGuest(['quiet', ...copy('/data/big', chunk)], { vfs, limits: { outputBytes: 64 << 20 } });
      expect(r.outcome).toBe('exited');
      expect(Buffer.compare(r.stdout, Buffer.concat([data, data.subarray(1_000_000, 1_020_000)]))).toBe(0);
    }
    // The same through /tmp (a writable file: its bytes are copied), written by the guest first.
    const r = await runGuest(
      [
        'quiet',
        'call open(pii)i s:/data/big 0 0',
        'save in',
        'call open(pii)i s:/tmp/t 577 420',
        'save out',
        'buf b 1048576',
        'loop 4',
        'call read(ipi)i v:in b:b 1048576',
        'call write(ipi)i v:out b:b r',
        'end',
        'call close(i)i v:out',
        ...copy('/tmp/t', 1 << 20),
      ],
      { vfs, limits: { outputBytes: 64 << 20 } },
    );
    expect(Buffer.compare(r.stdout, Buffer.concat([data, data.subarray(1_000_000, 1_020_000)]))).toBe(0);
    // The host program replacing the file later does not change what a finished run saw, and a new run sees the new bytes.
    const first = r.stdout.subarray(0, 16);
    vfs.addFile('/data/big', Buffer.alloc(size, 1));
    expect(first).toEqual(data.subarray(0, 16));
    const again = await runGuest(['quiet', ...copy('/data/big', 1 << 20)], { vfs, limits: { outputBytes: 64 << 20 } });
    expect(again.stdout.subarray(0, size).every((b) => b === 1)).toBe(true);
  });

  it('rejects over-long and unterminated paths with ENAMETOOLONG', async () => {
    const r = await runGuest(['fill p a 5000', 'call open(pii)i b:p 0 0', 'call stat64(pp)i b:p null'], {
      limits: { pathLength: 4096 },
    });
    expect(results(r.lines)).toEqual([
      { value: -1n, errno: Errno.ENAMETOOLONG },
      { value: -1n, errno: Errno.ENAMETOOLONG },
    ]);
  });

  it('aborts on an AbortSignal, killing the guest', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200);
    const err = (await runGuest(['sleep 10000'], { signal: ac.signal }).catch((e: unknown) => e)) as SandboxError;
    expect(err.kind).toBe('aborted');
  });

  it('writes a msgpack trace with arguments, paths, results, errno and reasons', async () => {
    const file = path.join(os.tmpdir(), `pypy-box-trace-${process.pid}.msgpack`);
    const seen: CallRecord[] = [];
    await runGuest(
      ['call open(pii)i s:/tmp/t.txt 65 420', 'call write(ipi)i 3 s:abc 3', 'call open(pii)i s:/etc/shadow 0 0'],
      { traceFile: file, onCall: (r) => seen.push(r) },
    );
    const entries = readTrace(file);
    fs.unlinkSync(file);
    expect(entries[0]).toMatchObject({ type: 'header', format: 'pypy-box-trace' });
    const calls = entries.filter((e) => e.type === 'call') as CallRecord[];
    expect(calls).toHaveLength(3);
    expect(calls[0]).toMatchObject({
      sig: 'open(pii)i',
      path: '/tmp/t.txt',
      result: 3,
      allowed: true,
      reason: 'writable in-memory tree',
    });
    expect(typeof calls[0]!.args[0]).toBe('bigint');
    expect(calls[1]).toMatchObject({ sig: 'write(ipi)i', result: 3, fromGuest: 3 });
    expect(calls[2]).toMatchObject({ path: '/etc/shadow', result: -1, errno: Errno.EACCES, allowed: false });
    expect(calls[2]!.reason).toMatch(/outside the sandbox's filesystem/);
    expect(entries.at(-1)).toMatchObject({ type: 'footer', outcome: 'exited', calls: 3 });
    expect(seen.map((c) => c.sig)).toEqual(calls.map((c) => c.sig));
  });

  it('keeps what the guest wrote in memory only, readable by the host afterwards', async () => {
    const r = await runGuest([
      'call mkdir(pi)i s:/tmp/out 493',
      'call open(pii)i s:/tmp/out/result.txt 577 420',
      'call write(ipi)i 3 s:42\\n 3',
      'call close(i)i 3',
    ]);
    expect(r.vfs.snapshot('/tmp')).toEqual({ 'out/result.txt': Buffer.from('42\n') });
    expect(fs.existsSync('/tmp/out/result.txt')).toBe(false);
  });

  it('validates options with messages naming the option', () => {
    expect(() => new Controller({ executable: '' })).toThrow(/option executable/);
    expect(() => new Controller({ executable: GUEST, limits: { bogus: 1 } as never })).toThrow(/limits\.bogus/);
    expect(() => new Controller({ executable: GUEST, cwd: 'relative' })).toThrow(/option cwd/);
    expect(() => new Controller({ python: 'pypy3', localAnswers: 'yes' as unknown as boolean })).toThrow(
      /option localAnswers/,
    );
    expect(() => new Controller({ executable: GUEST, env: { 'A=B': 'x' } })).toThrow(/env\.A=B/);
  });

  it('rejects with a spawn error for a missing binary', async () => {
    const err = (await new Controller({ executable: '/nonexistent/pypy' })
      .run()
      .catch((e: unknown) => e)) as SandboxError;
    expect(err).toBeInstanceOf(SandboxError);
    expect(err.kind).toBe('spawn');
  });
});
