import { execa } from 'execa';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frame } from '../src/server/frames.js';
import { serversUnder } from '../src/server/running.js';
import { FRAME } from '../src/supervisor/contract/contract.js';
import { ROOT, waitFor } from './helpers.js';

// The command's native client against a hostile server: a listener of the test's own at the
// client's socket, answering its request with malformed, truncated and random frames. The client
// must end with a status it was sent or a clear error (126), never crash or hang. Under
// `npm run test:sanitize` the client is its AddressSanitizer + UBSan build.

const NATIVE = path.dirname(process.env.PYPY_BOX_SUPERVISOR ?? path.join(ROOT, 'build/native/pypy-box-supervisor'));
const CLIENT = path.join(NATIVE, 'pypy-box-client');
const uid = process.getuid!();

/** A deterministic generator (xorshift), so that a failing case can be told again. */
function random(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

describe.skipIf(!fs.existsSync(CLIENT))('the native client against a hostile server', () => {
  let runtime: string;
  let socketPath: string;
  let server: net.Server;
  let reply: Buffer = Buffer.alloc(0);
  let requests: Buffer[] = [];

  beforeAll(async () => {
    runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-client-fuzz-'));
    // A real server first, to learn the socket this context's client uses; then it is killed
    // outright (its socket file stays) and the test listens there instead.
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', XDG_RUNTIME_DIR: runtime, PYPY_BOX_SERVER: 'wait' };
    const first = await execa(CLIENT, ['interact', '--no-walls', '-c', 'pass'], {
      env,
      extendEnv: false,
      reject: false,
    });
    expect(first.exitCode, first.stderr).toBe(0);
    const dir = path.join(runtime, `pypy-box-${uid}`);
    const [name] = fs.readdirSync(dir).filter((f) => f.endsWith('.sock'));
    socketPath = path.join(dir, name!);
    for (const pid of serversUnder(runtime)) process.kill(pid, 'SIGKILL');
    await waitFor(() => serversUnder(runtime).length === 0, 5000);
    fs.rmSync(socketPath, { force: true });
    server = net.createServer((c) => {
      let got = Buffer.alloc(0);
      c.on('error', () => undefined);
      // The whole request first (it may come in pieces), then the case's bytes.
      c.on('data', (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (got.length < 5 || got.length < 5 + got.readUInt32LE(1)) return;
        requests.push(got);
        c.end(reply);
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  }, 60_000);

  afterAll(() => {
    server?.close();
    fs.rmSync(runtime, { recursive: true, force: true });
  });

  const client = (bytes: Buffer) => {
    reply = bytes;
    return execa(CLIENT, ['interact', '-c', 'pass'], {
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', XDG_RUNTIME_DIR: runtime },
      extendEnv: false,
      reject: false,
      timeout: 10_000,
      input: 'typed ahead\n',
    });
  };

  const clean = (stderr: string) => {
    expect(stderr).not.toMatch(/AddressSanitizer|runtime error|LeakSanitizer/);
  };

  it('sends its request as one frame of NUL-terminated words: directory, umask, terminals, size, arguments, environment', async () => {
    requests = [];
    const r = await client(frame(FRAME.exit, Buffer.from([0, 0])));
    expect(r.exitCode, r.stderr).toBe(0);
    const req = requests[0]!;
    expect(req[0]).toBe(FRAME.request);
    expect(req.readUInt32LE(1)).toBe(req.length - 5);
    const words = req.subarray(5, -1).toString().split('\0');
    expect(words[0]).toBe(process.cwd());
    expect(words[2]).toBe('0'); // no terminal
    expect(words.slice(5, 9)).toEqual(['3', 'interact', '-c', 'pass']);
    expect(words).toContain(`XDG_RUNTIME_DIR=${runtime}`);
  });

  it('writes output frames as they come and ends with the status it is sent, or its signal', async () => {
    const r = await client(
      Buffer.concat([
        frame(FRAME.stdout, Buffer.from('out\n')),
        frame(FRAME.stderr, Buffer.from('err\n')),
        frame(FRAME.exit, Buffer.from([7, 0])),
      ]),
    );
    expect({ code: r.exitCode, out: r.stdout, err: r.stderr }).toEqual({ code: 7, out: 'out', err: 'err' });
    const killed = await client(frame(FRAME.exit, Buffer.from([0, 15])));
    expect(killed.signal).toBe('SIGTERM');
  });

  it('refuses what no worker sends: an unknown type, an oversized small frame, a stream that ends midway', async () => {
    for (const bytes of [
      frame(0x7a, Buffer.from([1, 2, 3])),
      frame(FRAME.raw, Buffer.alloc(9)),
      frame(FRAME.exit, Buffer.alloc(100)),
      frame(FRAME.request, Buffer.from([])),
      Buffer.from([FRAME.stdout, 0xff, 0xff, 0xff, 0xff, 0x41]),
      Buffer.from([FRAME.exit, 2, 0]),
    ]) {
      const r = await client(bytes);
      clean(r.stderr);
      expect(r.timedOut).toBe(false);
      expect(r.exitCode, `${bytes.toString('hex')}: ${r.stderr}`).toBe(126);
      expect(r.stderr).toMatch(/malformed frame|without its status/);
    }
  });

  it('survives random frames (200 cases): a status, or a clear error', async () => {
    const next = random(0x5eed);
    const types = [...Object.values(FRAME), 0, 0xff, 0x7a];
    for (let i = 0; i < 200; i++) {
      const parts: Buffer[] = [];
      for (let k = Math.floor(next() * 6); k > 0; k--) {
        const type = types[Math.floor(next() * types.length)]!;
        const len = next() < 0.1 ? Math.floor(next() * 2 ** 32) : Math.floor(next() * 40);
        const body = Buffer.from(Array.from({ length: Math.min(len, 64) }, () => Math.floor(next() * 256)));
        const head = Buffer.alloc(5);
        head[0] = type;
        head.writeUInt32LE(len >>> 0, 1);
        parts.push(next() < 0.2 ? head.subarray(0, Math.floor(next() * 5)) : Buffer.concat([head, body]));
      }
      parts.push(Buffer.from([Math.floor(next() * 256)])); // never nothing: that would run the command in Node
      const r = await client(Buffer.concat(parts));
      clean(r.stderr);
      expect(r.timedOut, `case ${i}`).toBe(false);
      if (r.signal === undefined || r.signal === null)
        expect(r.exitCode === 126 ? r.stderr : 'ok', `case ${i}`).toMatch(/malformed frame|without its status|^ok$/);
    }
  }, 120_000);
});
