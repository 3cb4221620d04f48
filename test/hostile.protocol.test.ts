import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  closeSpareSupervisor,
  Controller,
  SandboxError,
  type ControllerOptions,
  type GuestTransport,
  type RunResult,
} from '../src/index.js';
import { MISSING_NAME, type DecodedCall } from '../src/protocol/decoder.js';
import { parseSignature } from '../src/protocol/signature.js';
import { checkReport } from '../src/supervisor/reports.js';
import { parseNote } from '../src/supervisor/notes.js';
import { healthy, openFds, outcome, runGuest } from './helpers.js';

/** One raw call: length byte, signature, 8-byte arguments. */
function rawCall(sig: string, words: (number | bigint)[] = []): Buffer {
  const args = Buffer.alloc(8 * words.length);
  words.forEach((w, k) => args.writeBigInt64LE(BigInt(w), 8 * k));
  return Buffer.concat([Buffer.of(sig.length), Buffer.from(sig, 'latin1'), args]);
}

/** What a scripted guest can do: send bytes, wait for bytes from the controller, end. */
interface GuestSide {
  send(b: Buffer): void;
  /** The next `n` bytes the controller sends, or null once the guest was killed. */
  next(n: number): Promise<Buffer | null>;
  /** Closes its output and exits with `code`. */
  exit(code: number): void;
  /** Dies of a signal (a crash). */
  die(signal: string): void;
}

/** A guest written as a script, with the supervisor's notes stream; tells whether it was killed. */
function scriptedGuest(
  script: (g: GuestSide) => Promise<void>,
  notes: string[] = [],
): { transport: () => GuestTransport; killed: () => boolean } {
  let wasKilled = false;
  const transport = (): GuestTransport => {
    const stdout = new PassThrough();
    const stdin = new PassThrough();
    const stderr = new PassThrough();
    const noteStream = new PassThrough();
    let ended = false;
    let settle!: (v: { exitCode?: number; signal?: string }) => void;
    const done = new Promise<{ exitCode?: number; signal?: string }>((r) => (settle = r));
    let inbox = Buffer.alloc(0);
    let wake: (() => void) | undefined;
    stdin.on('data', (b: Buffer) => {
      inbox = Buffer.concat([inbox, b]);
      wake?.();
    });
    const end = (v: { exitCode?: number; signal?: string }) => {
      if (ended) return;
      ended = true;
      stdout.end();
      stderr.end();
      noteStream.end();
      // As for a real process: its end is told after what it wrote has been read.
      setTimeout(() => settle(v), 10);
    };
    const side: GuestSide = {
      send: (b) => void (!ended && stdout.write(b)),
      next: async (n) => {
        while (inbox.length < n) {
          if (ended) return null;
          await new Promise<void>((r) => {
            wake = r;
            setTimeout(r, 20);
          });
        }
        const out = inbox.subarray(0, n);
        inbox = inbox.subarray(n);
        return out;
      },
      exit: (code) => end({ exitCode: code }),
      die: (signal) => end({ signal }),
    };
    for (const line of notes) noteStream.write(line);
    void script(side);
    return {
      stdin,
      stdout,
      stderr,
      notes: noteStream,
      kill: () => {
        wasKilled = true;
        end({ signal: 'SIGKILL' });
      },
      done,
    };
  };
  return { transport, killed: () => wasKilled };
}

/** A guest that writes 100 bytes to stdout, answers the controller's R with only `given` of them, then does `then`. */
function shortReply(given: number, then: (g: GuestSide) => void) {
  return scriptedGuest(async (g) => {
    g.send(rawCall('write(ipi)i', [1, 0x1000, 100]));
    const cmd = await g.next(17); // R, pointer, size
    if (!cmd || cmd[0] !== 0x52) return g.exit(3);
    g.send(Buffer.alloc(given, 0x41));
    then(g);
  });
}

function run(
  transport: () => GuestTransport,
  extra: Partial<ControllerOptions> = {},
): Promise<RunResult | SandboxError> {
  return outcome(new Controller({ executable: '(scripted)', transport, timeout: 30_000, ...extra }).run());
}

function expectProtocolError(r: RunResult | SandboxError, message: RegExp): void {
  expect(r).toBeInstanceOf(SandboxError);
  expect((r as SandboxError).kind).toBe('protocol');
  expect((r as SandboxError).message).toMatch(message);
  expect((r as SandboxError).result.outcome).toBe('killed');
}

describe('a guest that stops in the middle of a message', () => {
  it('stopping inside a call is ended after the stall timeout, with the bytes it sent', async () => {
    await closeSpareSupervisor(); // an intended idle process: not a leak
    const before = openFds();
    const partial = rawCall('read(ipi)i', [0, 0, 0]).subarray(0, 15).toString('hex');
    const r = await outcome(runGuest([`raw ${partial} -`, 'sleep 30000'], { limits: { stallMs: 300 } }));
    expectProtocolError(r, /stalled: no byte for 300 ms in the middle of a call.*0a 72 65 61 64 28 69 70 69 29 69/s);
    await healthy(before);
  });

  it('stopping inside its reply to R is ended after the stall timeout and killed', async () => {
    await closeSpareSupervisor();
    const before = openFds();
    const guest = shortReply(10, () => undefined); // then nothing: waits to be killed
    const r = await run(guest.transport, { limits: { stallMs: 300 } });
    expectProtocolError(
      r,
      /stalled: no byte for 300 ms in the middle of its reply to R \(100 bytes\) \(10 bytes of it received\).*41 41 41/s,
    );
    expect(guest.killed()).toBe(true);
    await healthy(before);
  });

  it('leaving an answer larger than its pipe unread is a stall too, and the guest is killed', async () => {
    await closeSpareSupervisor();
    const before = openFds();
    const read = rawCall('read(ipi)i', [0, 0x1000, 4 << 20]).toString('hex');
    const r = await outcome(
      runGuest([`raw ${read} -`, 'sleep 30000'], {
        stdin: Buffer.alloc(4 << 20, 0x5a),
        limits: { ioChunkBytes: 4 << 20, stallMs: 300 },
      }),
    );
    expectProtocolError(r, /guest stalled: it read none of the \d+ bytes of answers waiting for it for 300 ms/);
    await healthy(before);
  });

  it('the stall timeout is an option checked up front', () => {
    expect(new Controller({ executable: '(any)' }).options.limits.stallMs).toBe(5000);
    expect(() => new Controller({ executable: '(any)', limits: { stallMs: -1 } })).toThrow(
      /option limits.stallMs: expected a non-negative integer/,
    );
    expect(() => new Controller({ executable: '(any)', limits: { stallMs: 2 ** 31 } })).toThrow(
      /option limits.stallMs: must be at most 2147483647/,
    );
  });

  it('a guest that trickles its reply is not stalled: each byte restarts the clock', async () => {
    const guest = scriptedGuest(async (g) => {
      g.send(rawCall('write(ipi)i', [1, 0x1000, 8]));
      if (!(await g.next(17))) return;
      for (let k = 0; k < 8; k++) {
        await new Promise((res) => setTimeout(res, 100));
        g.send(Buffer.of(0x30 + k));
      }
      if (!(await g.next(9))) return; // the result
      g.exit(0);
    });
    const r = await run(guest.transport, { limits: { stallMs: 250 } });
    expect(r).not.toBeInstanceOf(SandboxError);
    expect((r as RunResult).stdout.toString()).toBe('01234567');
  });

  it('with the stall timeout off, waits for the guest, and reports the message cut short when it ends', async () => {
    const guest = scriptedGuest(async (g) => {
      g.send(rawCall('getpid()i').subarray(0, 5));
      await new Promise((res) => setTimeout(res, 600));
      g.exit(0);
    });
    const r = await run(guest.transport, { limits: { stallMs: 0 } });
    expectProtocolError(r, /guest ended in the middle of a call.*09 67 65 74 70/s);
    expect(guest.killed()).toBe(false);
  });
});

describe('a guest that closes its output in the middle of a message and exits 0', () => {
  it('inside its reply to R: a protocol error with the bytes received, not a clean exit', async () => {
    await closeSpareSupervisor();
    const before = openFds();
    const guest = shortReply(3, (g) => g.exit(0));
    const r = await run(guest.transport);
    expectProtocolError(
      r,
      /guest ended in the middle of its reply to R \(100 bytes\) \(3 bytes of it received\) \(bytes: 41 41 41 /,
    );
    await healthy(before);
  });

  it('before any byte of its reply to R: a protocol error too', async () => {
    const guest = shortReply(0, (g) => g.exit(0));
    expectProtocolError(
      await run(guest.transport),
      /guest ended in the middle of its reply to R \(100 bytes\) \(0 bytes of it received\)/,
    );
  });

  it('a reply cut short by a crash is reported as the crash', async () => {
    const r = await run(shortReply(5, (g) => g.die('SIGSEGV')).transport);
    expect(r).not.toBeInstanceOf(SandboxError);
    expect(r).toMatchObject({ outcome: 'signaled', signal: 'SIGSEGV' });
  });

  it('inside a report of a supervisor: a protocol error naming the report', async () => {
    const report = Buffer.concat([Buffer.of(0), rawCall('close(i)i', [7])]);
    const guest = scriptedGuest(async (g) => {
      g.send(report.subarray(0, 8));
      g.exit(0);
    });
    expectProtocolError(
      await outcome(new Controller({ python: 'python3', transport: guest.transport, timeout: 30_000 }).run()),
      /guest ended in the middle of a call \(bytes: 00 09 63 6c 6f 73 65 28/,
    );
  });
});

describe('supervisor notes are checked like guest input', () => {
  it.each([
    ['an unknown note', ['walls seccomp\n', 'hello world\n'], /malformed note from the supervisor: "hello world"/],
    ['a limit with a bad value', ['limit heap 12x\n'], /malformed note.*"limit heap 12x"/],
    ['a limit the controller does not know', ['limit pids 5\n'], /malformed note.*"limit pids 5"/],
    ['an exit status out of range', ['exit 123456\n'], /malformed note.*"exit 123456"/],
    ['control characters', ['walls a\x1b[2J\n'], /malformed note/],
    ['a note cut short', ['walls seccomp'], /note from the supervisor cut short: "walls seccomp"/],
    ['too many notes', ['walls ' + 'a,'.repeat(8300) + '\n'], /more than 16384 bytes of notes/],
  ])('%s ends the run as a protocol error', async (_name, notes, message) => {
    await closeSpareSupervisor();
    const before = openFds();
    const guest = scriptedGuest(async (g) => {
      await new Promise((res) => setTimeout(res, 100));
      g.exit(0);
    }, notes);
    expectProtocolError(await run(guest.transport), message);
    await healthy(before);
  });

  it('well-formed notes still tell the walls and the limit that ended the guest', async () => {
    const guest = scriptedGuest(
      async (g) => {
        await new Promise((res) => setTimeout(res, 100));
        g.exit(0);
      },
      ['walls seccomp-strict,rlimits,\n', 'limit heap 1048576\n', 'exit 9\n'],
    );
    const r = await run(guest.transport);
    expect(r).not.toBeInstanceOf(SandboxError);
    expect((r as RunResult).walls).toEqual(['seccomp-strict', 'rlimits']);
    expect(r as RunResult).toMatchObject({ outcome: 'limit', limit: { name: 'heap', value: 1048576 } });
  });

  it('parses each note form, and refuses anything else', () => {
    expect(parseNote('walls a,b-c,')).toEqual({ kind: 'walls', walls: ['a', 'b-c'] });
    expect(parseNote('limit cpu 0')).toEqual({ kind: 'limit', name: 'cpu', value: 0 });
    expect(parseNote('exec-failed No such file or directory 2')).toEqual({
      kind: 'exec-failed',
      reason: 'No such file or directory',
      errno: 2,
    });
    expect(parseNote('exit 256')).toEqual({ kind: 'exit', status: 256 });
    for (const bad of [
      '',
      'exit',
      'exit -1',
      'exit 1 2',
      'limit heap',
      'limit heap 99999999999999999999',
      'exec-failed 2',
      'exec-failed oops 0',
      'walls A',
      'toString 1',
      'walls\ta',
    ]) {
      expect(() => parseNote(bad), bad).toThrow(/malformed note/);
    }
  });
});

describe('supervisor reports are checked like guest input', () => {
  /** A report: 0, the call, then result, errno, grant, start, spent, host path. */
  const reportBytes = (call: Buffer, result: bigint, errno: number, grant = 0xffff, path = '') => {
    const tail = Buffer.alloc(28);
    tail.writeBigInt64LE(result, 0);
    tail.writeInt32LE(errno, 8);
    tail.writeUInt16LE(grant, 12);
    tail.writeBigUInt64LE(1n, 14);
    tail.writeUInt32LE(1, 22);
    tail.writeUInt16LE(Buffer.byteLength(path), 26);
    return Buffer.concat([Buffer.of(0), call, tail, Buffer.from(path)]);
  };

  it('a report of a call that was not handed over ends the run as a protocol error, not an internal one', async () => {
    await closeSpareSupervisor();
    const before = openFds();
    const guest = scriptedGuest(async (g) => {
      g.send(reportBytes(rawCall('close(i)i', [7]), 0n, 0));
      await new Promise((res) => setTimeout(res, 2000));
      g.exit(0);
    });
    const r = await outcome(new Controller({ python: 'python3', transport: guest.transport, timeout: 30_000 }).run());
    expectProtocolError(r, /report from the supervisor of close\(i\)i: a call it was not handed to answer/);
    expect(guest.killed()).toBe(true);
    await healthy(before);
  });

  const call = (
    sig: string,
    args: (number | bigint)[],
    report: Partial<NonNullable<DecodedCall['report']>>,
  ): DecodedCall => ({
    sig: parseSignature(sig, true),
    args,
    report: { result: 0n, errno: 0, grant: -1, startNs: 1n, spentNs: 1, hostPath: '', ...report },
  });
  const allowed = new Set(['close(i)i', 'getdents64(ipi)i', 'newfstatat(ippi)i', 'getrandom(pii)i', 'openat(ipii)i']);

  it('accepts what a supervisor sends', () => {
    expect(() => checkReport(call('close(i)i', [7], {}), allowed, 0)).not.toThrow();
    expect(() => checkReport(call('close(i)i', [-1], {}), allowed, 0)).not.toThrow(); // the guest's own bad close
    expect(() =>
      checkReport(
        call('newfstatat(ippi)i', [-100, 0x1000n, 0x2000n, 0], { result: -1n, errno: 2, grant: MISSING_NAME }),
        allowed,
        0,
      ),
    ).not.toThrow();
    expect(() =>
      checkReport(call('openat(ipii)i', [-100, 0x1000n, 0, 0], { result: 5n, grant: 2 }), allowed, 3),
    ).not.toThrow();
    expect(() =>
      checkReport(call('getdents64(ipi)i', [512, 0x1000n, -1], { result: 4096n }), allowed, 0),
    ).not.toThrow(); // count read as unsigned
  });

  it.each([
    ['a call not handed over', call('execve(ppp)i', [1n, 2n, 3n], {}), /not handed to answer/],
    ['an errno out of range', call('close(i)i', [7], { result: -1n, errno: 5000 }), /errno 5000 out of range/],
    ['a negative errno', call('close(i)i', [7], { result: -1n, errno: -2 }), /errno -2 out of range/],
    ['a failure that does not return -1', call('close(i)i', [7], { result: 0n, errno: 9 }), /result 0 with errno 9/],
    ['a negative result without errno', call('close(i)i', [7], { result: -5n }), /result -5 out of range/],
    [
      'a grant it was not given',
      call('openat(ipii)i', [-100, 1n, 0, 0], { result: 5n, grant: 3 }),
      /grant 3 \(it was given 3\)/,
    ],
    [
      'an unknown grant sentinel',
      call('openat(ipii)i', [-100, 1n, 0, 0], { result: 5n, grant: 0xfffb }),
      /grant 65531/,
    ],
    ['a descriptor that is no C int', call('close(i)i', [2 ** 40], {}), /descriptor 1099511627776 is not a C int/],
    [
      'more bytes than the buffer',
      call('getrandom(pii)i', [1n, 16, 0], { result: 17n }),
      /result 17 exceeds the count 16/,
    ],
  ])('refuses %s', (_name, c, message) => {
    expect(() => checkReport(c, allowed, 3)).toThrow(message);
  });
});
