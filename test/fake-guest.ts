import { PassThrough } from 'node:stream';
import type { GuestTransport } from '../src/index.js';

/** A seeded xorshift generator: the fuzz cases are the same on every run. */
export function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x1_0000_0000;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(a: readonly T[]) => a[Math.floor(next() * a.length)]!,
  };
}

const STRINGS = [
  '/tmp/a',
  '/tmp',
  '/etc/passwd',
  '../../..',
  '/dev/urandom',
  '',
  'x'.repeat(300),
  '/tmp/\u00ff\u00fe',
  'HOME',
  '/proc/self/mem',
];

/**
 * A guest written in JS for fuzzing: it sends the messages of `stream` one at a time, as a real
 * guest would, and serves the controller's memory commands from made-up memory. Bytes it cannot
 * parse as a call are sent as they are. It never trusts what the controller sends either.
 */
export function fakeGuest(stream: Buffer, seed: number): GuestTransport {
  const r = rng(seed);
  const stdout = new PassThrough();
  const stdin = new PassThrough();
  const stderr = new PassThrough();
  let killed = false;
  let resolveDone!: (v: { exitCode?: number; signal?: string }) => void;
  const done = new Promise<{ exitCode?: number; signal?: string }>((res) => (resolveDone = res));
  let inbox = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  stdin.on('data', (b: Buffer) => {
    inbox = Buffer.concat([inbox, b]);
    wake?.();
  });
  const need = async (n: number): Promise<Buffer | null> => {
    while (inbox.length < n) {
      if (killed) return null;
      await new Promise<void>((res) => {
        wake = res;
        setTimeout(res, 50);
      });
    }
    const out = inbox.subarray(0, n);
    inbox = inbox.subarray(n);
    return out;
  };
  const send = (b: Buffer) => {
    if (!killed) stdout.write(b);
  };
  const finish = (v: { exitCode?: number; signal?: string }) => {
    if (killed) return;
    killed = true;
    stdout.end();
    stderr.end();
    resolveDone(v);
  };
  /** Serves commands until a result byte; false when the conversation broke. */
  const serve = async (): Promise<boolean> => {
    for (;;) {
      const c = await need(1);
      if (!c) return false;
      const cmd = String.fromCharCode(c[0]!);
      if (cmd === 'R') {
        const h = await need(16);
        if (!h) return false;
        const size = Number(h.readBigUInt64LE(8));
        if (size > 8 << 20) return false; // a real guest would crash; this one gives up
        const data = Buffer.alloc(size);
        for (let k = 0; k < Math.min(size, 64); k++) data[k] = r.int(256);
        send(data);
      } else if (cmd === 'Z') {
        const h = await need(16);
        if (!h) return false;
        const max = h.readBigUInt64LE(8);
        const s = Buffer.from(r.pick(STRINGS));
        const len = BigInt(s.length) > max ? Number(max) : s.length;
        const lb = Buffer.alloc(8);
        lb.writeBigUInt64LE(BigInt(len));
        send(Buffer.concat([lb, s.subarray(0, len)]));
      } else if (cmd === 'W') {
        const h = await need(16);
        if (!h || !(await need(Number(h.readBigUInt64LE(8))))) return false;
      } else if (cmd === 'M') {
        const h = await need(8);
        if (!h || !(await need(Number(h.readBigUInt64LE(0))))) return false;
        const p = Buffer.alloc(8);
        p.writeBigUInt64LE(0x7f00_0000_0000n + BigInt(r.int(1 << 20)) * 16n);
        send(p);
      } else if (cmd === 'F') {
        if (!(await need(8))) return false;
      } else if (cmd === 'E') {
        if (!(await need(4))) return false;
      } else if ('vifp'.includes(cmd)) {
        if (cmd !== 'v' && !(await need(8))) return false;
        return true;
      } else {
        return false; // the guest would abort: "protocol error"
      }
    }
  };
  void (async () => {
    let pos = 0;
    while (pos < stream.length && !killed) {
      const n = stream[pos]!;
      const sig = stream.subarray(pos + 1, pos + 1 + n).toString('latin1');
      const m = /^[A-Za-z_][A-Za-z0-9_]*\(([ifpv]{0,32})\)([vifp])$/.exec(sig);
      if (n === 0 || !m) {
        send(stream.subarray(pos)); // garbage goes out as it is
        break;
      }
      const len = 1 + n + 8 * m[1]!.replace(/v/g, '').length;
      send(stream.subarray(pos, pos + len));
      pos += len;
      if (pos > stream.length) break; // a truncated call: the guest stops mid-message
      if (!(await serve())) break;
    }
    setTimeout(() => finish({ exitCode: 0 }), 5);
  })();
  return { stdin, stdout, stderr, kill: () => finish({ signal: 'SIGKILL' }), done };
}
