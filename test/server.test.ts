import { execa, type ResultPromise } from 'execa';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serversUnder, workersOf } from '../src/server/running.js';
import { FRAME } from '../src/supervisor/contract/contract.js';
import { ROOT, waitFor } from './helpers.js';

// The command as a user's shell runs it (the package's `bin` script, the native client) handing
// `interact` to a command server: what the run sees of the client, its terminal, its signals, and
// what happens when the client, the socket or its directory are not what they should be.

const BIN = path.join(ROOT, 'dist/controller/pypy-box');
const CLIENT = path.join(ROOT, 'build/native/pypy-box-client');
const DRIVER = path.join(ROOT, 'test/pty-driver.py');
const uid = process.getuid!();
const havePypy3 = fs.existsSync('/usr/bin/pypy3');

/** Processes whose command line contains marker. */
function processesWith(marker: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .filter((n) => {
      try {
        return fs.readFileSync(`/proc/${n}/cmdline`, 'utf8').includes(marker);
      } catch {
        return false;
      }
    })
    .map(Number);
}

const sockets = (runtime: string) =>
  fs.existsSync(path.join(runtime, `pypy-box-${uid}`))
    ? fs.readdirSync(path.join(runtime, `pypy-box-${uid}`)).filter((f) => f.endsWith('.sock'))
    : [];

describe.skipIf(!fs.existsSync(CLIENT) || !havePypy3)('the command server', () => {
  let runtime: string;
  let work: string;
  const env = () => ({
    PATH: '/usr/local/bin:/usr/bin:/bin',
    XDG_RUNTIME_DIR: runtime,
    PYPY_BOX_SERVER: 'wait',
    NO_COLOR: '1',
  });
  const pypyBox = (args: string[], opts: Record<string, unknown> = {}): ResultPromise =>
    execa(BIN, ['interact', ...args], { env: env(), extendEnv: false, reject: false, cwd: work, ...opts });

  beforeAll(() => {
    runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-server-'));
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-client-'));
  });

  afterAll(async () => {
    for (const pid of serversUnder(runtime)) process.kill(pid, 'SIGTERM');
    await waitFor(() => serversUnder(runtime).length === 0, 10_000).catch(() => undefined);
    fs.rmSync(runtime, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("runs interact in a warm worker as the client's own process: its directory, umask, input, output and status", async () => {
    fs.writeFileSync(path.join(work, 'data.txt'), 'sales 41\n');
    fs.writeFileSync(
      path.join(work, 'report.py'),
      [
        'import sys',
        'n = int(open("/tmp/data.txt").read().split()[1]) + 1',
        'line = sys.stdin.read()',
        'import os; os.mkdir("/tmp/out"); open("/tmp/out/n.txt", "w").write(str(n))',
        'print(line.upper().strip(), n)',
        'sys.stderr.write("to stderr\\n")',
        'sys.exit(3)',
      ].join('\n'),
    );
    const r = await pypyBox(['--tmp-file', 'data.txt', '--export', '/tmp/out:exported', 'report.py'], {
      input: 'hello from stdin\n',
    });
    expect(r.stdout).toBe('HELLO FROM STDIN 42');
    expect(r.stderr).toContain('to stderr');
    expect(r.exitCode).toBe(3);
    expect(fs.readFileSync(path.join(work, 'exported/n.txt'), 'utf8')).toBe('42');
    expect(serversUnder(runtime)).toHaveLength(1);
    expect(sockets(runtime)).toHaveLength(1);

    // An export is written with the client's umask: 077 leaves it to its owner alone.
    const masked = await execa(
      'sh',
      [
        '-c',
        `umask 077; exec "${BIN}" interact --export /tmp/o:masked -c 'import os; os.mkdir("/tmp/o"); open("/tmp/o/x", "w").write("x")'`,
      ],
      {
        env: env(),
        extendEnv: false,
        reject: false,
        cwd: work,
      },
    );
    expect(masked.exitCode, masked.stderr).toBe(0);
    expect(fs.statSync(path.join(work, 'masked/x')).mode & 0o777).toBe(0o600);
    // The guest's own umask is the client's too, whatever the run before had.
    const guestMask = await execa(
      'sh',
      [
        '-c',
        `umask 000; "${BIN}" interact -c pass; umask 077; exec "${BIN}" interact -c 'import os; print(oct(os.umask(0)))'`,
      ],
      { env: env(), extendEnv: false, reject: false, cwd: work },
    );
    expect(guestMask.stdout).toBe('0o77');
  });

  it('starts a server of its own for a process that differs in what its children inherit (a resource limit)', async () => {
    const before = sockets(runtime).length;
    const r = await execa(
      'sh',
      [
        '-c',
        `ulimit -n 1000; exec "${BIN}" interact -c 'import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE)[1])'`,
      ],
      {
        env: env(),
        extendEnv: false,
        reject: false,
        cwd: work,
      },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(Number(r.stdout)).toBeLessThanOrEqual(1000);
    expect(sockets(runtime).length).toBe(before + 1);
  });

  it('passes its SIGINT to the run: the guest is stopped, 130', async () => {
    const marker = `sleeper-${process.pid}-int`;
    const child = pypyBox(['-c', `import time; print("ready", flush=True); time.sleep(60) # ${marker}`]);
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.includes('ready') && resolve()));
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(130);
    expect(r.stderr).toContain('guest stopped (SIGINT)');
    await waitFor(() => processesWith(marker).length === 0, 5000);
  });

  it('a client killed outright: its run ends and its guest with it', async () => {
    const marker = `sleeper-${process.pid}-kill`;
    const child = pypyBox(['-c', `import time; print("ready", flush=True); time.sleep(60) # ${marker}`]);
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.includes('ready') && resolve()));
    expect(processesWith(marker).length).toBeGreaterThan(0);
    child.kill('SIGKILL');
    await child;
    await waitFor(() => processesWith(marker).length === 0, 6000);
    // The server goes on serving.
    const r = await pypyBox(['-c', 'print(6*7)']);
    expect(r.stdout).toBe('42');
  });

  it('streams large input and output with backpressure, and ends quietly with 141 when its reader goes away', async () => {
    const count = await execa(
      'sh',
      ['-c', `head -c 20000000 /dev/zero | "${BIN}" interact -c 'import sys; print(len(sys.stdin.buffer.read()))'`],
      { env: env(), extendEnv: false, reject: false, cwd: work },
    );
    expect(count.stdout).toBe('20000000');
    const big = await execa('sh', ['-c', `"${BIN}" interact -c 'print("x" * 8000000)' | wc -c`], {
      env: env(),
      extendEnv: false,
      reject: false,
    });
    expect(big.stdout.trim()).toBe('8000001');
    const status = await execa(
      'bash',
      ['-c', `"${BIN}" interact -c 'while True: print("line")' | head -1 >/dev/null; echo \${PIPESTATUS[0]}`],
      {
        env: env(),
        extendEnv: false,
        reject: false,
      },
    );
    expect(status.stdout).toBe('141');
  });

  it('a malformed or vanishing client ends only its own connection; the next run is served', async () => {
    const [sock] = sockets(runtime);
    const file = path.join(runtime, `pypy-box-${uid}`, sock!);
    const replies = await new Promise<Buffer>((resolve) => {
      const c = net.connect(file);
      const got: Buffer[] = [];
      c.on('data', (d) => got.push(d));
      c.on('close', () => resolve(Buffer.concat(got)));
      c.on('error', () => undefined);
      c.write(Buffer.from([0x7a, 0xff, 0xff, 0xff, 0xff])); // an unknown type, a 4 GiB length
    });
    expect(replies.includes(Buffer.from('unknown type'))).toBe(true);
    expect(replies[replies.length - 7]).toBe(FRAME.exit);
    // Clients that connect and go away before a request cost no worker its life.
    const workers = serversUnder(runtime).flatMap(workersOf);
    for (let i = 0; i < 20; i++)
      await new Promise<void>((resolve) => {
        const c = net.connect(file, () => c.destroy());
        c.on('close', () => resolve());
        c.on('error', () => resolve());
      });
    expect(workers.filter((pid) => fs.existsSync(`/proc/${pid}`))).toEqual(workers);
    const r = await pypyBox(['-c', 'print(6*7)']);
    expect(r.stdout).toBe('42');
  });

  it('lets go of a client that never sends its request, and goes on serving', async () => {
    await pypyBox(['-c', 'pass']); // a server there
    const [sock] = sockets(runtime);
    const file = path.join(runtime, `pypy-box-${uid}`, sock!);
    const started = Date.now();
    const silent = net.connect(file);
    silent.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => silent.on('close', () => resolve()));
    silent.resume(); // read what comes (the status), or its end is never seen
    // Meanwhile another client is served (by another worker).
    const r = await pypyBox(['-c', 'print(6*7)']);
    expect(r.stdout).toBe('42');
    await closed;
    expect(Date.now() - started).toBeLessThan(9000);
  });

  it('replaces a socket file nobody answers on', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-stale-'));
    try {
      const first = await execa(BIN, ['interact', '-c', 'pass'], {
        env: { ...env(), XDG_RUNTIME_DIR: other },
        extendEnv: false,
      });
      expect(first.exitCode).toBe(0);
      const [sock] = sockets(other);
      for (const pid of serversUnder(other)) process.kill(pid, 'SIGKILL'); // its socket file stays
      await waitFor(() => serversUnder(other).length === 0, 5000);
      expect(sockets(other)).toEqual([sock]);
      const again = await execa(BIN, ['interact', '-c', 'print(6*7)'], {
        env: { ...env(), XDG_RUNTIME_DIR: other },
        extendEnv: false,
      });
      expect(again.stdout).toBe('42');
      expect(serversUnder(other)).toHaveLength(1);
    } finally {
      for (const pid of serversUnder(other)) process.kill(pid, 'SIGTERM');
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('uses no server when the directory of sockets is not its own alone, or when told not to', async () => {
    const open = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-open-'));
    try {
      fs.mkdirSync(path.join(open, `pypy-box-${uid}`), { mode: 0o777 });
      fs.chmodSync(path.join(open, `pypy-box-${uid}`), 0o777);
      const { PYPY_BOX_SERVER: _wait, ...auto } = { ...env(), XDG_RUNTIME_DIR: open };
      const r = await execa(BIN, ['interact', '-c', 'print(6*7)'], { env: auto, extendEnv: false });
      expect(r.stdout).toBe('42');
      expect(serversUnder(open)).toEqual([]);
      expect(sockets(open)).toEqual([]);
      // Told to wait for a server, it says why there is none.
      const waited = await execa(BIN, ['interact', '-c', 'print(6*7)'], {
        env: { ...env(), XDG_RUNTIME_DIR: open },
        extendEnv: false,
        reject: false,
      });
      expect(waited.exitCode).toBe(126);
      expect(waited.stderr).toContain('no command server can be used here');
      fs.rmSync(path.join(open, `pypy-box-${uid}`), { recursive: true });
      const off = await execa(BIN, ['interact', '-c', 'print(6*7)'], {
        env: { ...env(), XDG_RUNTIME_DIR: open, PYPY_BOX_SERVER: 'off' },
        extendEnv: false,
      });
      expect(off.stdout).toBe('42');
      expect(sockets(open)).toEqual([]);
    } finally {
      fs.rmSync(open, { recursive: true, force: true });
    }
  });

  it('`pypy-box server status` lists the servers and their workers; `server stop` ends them', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-stop-'));
    const own = { ...env(), XDG_RUNTIME_DIR: other };
    try {
      await execa(BIN, ['interact', '-c', 'pass'], { env: own, extendEnv: false });
      const status = await execa(BIN, ['server', 'status'], { env: own, extendEnv: false });
      expect(status.stdout).toMatch(
        new RegExp(`^pid \\d+, 1 worker\\(s\\), ${other}/pypy-box-${uid}/[0-9a-f]{16}\\.sock$`),
      );
      const stop = await execa(BIN, ['server', 'stop'], { env: own, extendEnv: false });
      expect(stop.stdout).toBe('1 command server(s) stopped');
      await waitFor(() => serversUnder(other).length === 0, 5000);
      const none = await execa(BIN, ['server', 'status'], { env: own, extendEnv: false });
      expect(none.stdout).toBe(`no command server (sockets in ${other}/pypy-box-${uid})`);
    } finally {
      for (const pid of serversUnder(other)) process.kill(pid, 'SIGTERM');
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('retires a worker after its runs without losing a client; with every worker busy, a client runs in Node', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-busy-'));
    const own = { ...env(), XDG_RUNTIME_DIR: other, PYPY_BOX_SERVER_RUNS: '2' };
    try {
      for (let i = 0; i < 6; i++) {
        const r = await execa(BIN, ['interact', '-c', `print(${i})`], { env: own, extendEnv: false, reject: false });
        expect({ i, code: r.exitCode, out: r.stdout }).toEqual({ i, code: 0, out: String(i) });
      }
      const sleepers = Array.from({ length: 4 }, () =>
        execa(BIN, ['interact', '-c', 'import time; print("up", flush=True); time.sleep(30)'], {
          env: own,
          extendEnv: false,
          reject: false,
        }),
      );
      await Promise.all(sleepers.map((c) => new Promise<void>((resolve) => c.stdout!.on('data', () => resolve()))));
      const fifth = await execa(BIN, ['interact', '-c', 'print("fifth")'], {
        env: own,
        extendEnv: false,
        timeout: 20_000,
      });
      expect(fifth.stdout).toBe('fifth');
      for (const c of sleepers) c.kill('SIGTERM');
      expect((await Promise.all(sleepers)).map((r) => r.exitCode)).toEqual([143, 143, 143, 143]);
    } finally {
      for (const pid of serversUnder(other)) process.kill(pid, 'SIGTERM');
      fs.rmSync(other, { recursive: true, force: true });
    }
  }, 90_000);

  it('ends when idle, its socket removed and its workers gone', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-idle-'));
    try {
      const r = await execa(BIN, ['interact', '-c', 'pass'], {
        env: { ...env(), XDG_RUNTIME_DIR: other, PYPY_BOX_SERVER_IDLE_MS: '1500' },
        extendEnv: false,
      });
      expect(r.exitCode).toBe(0);
      const [server] = serversUnder(other);
      expect(server).toBeDefined();
      await waitFor(() => serversUnder(other).length === 0, 10_000);
      expect(sockets(other)).toEqual([]);
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });

  it('at a terminal: the prompt, raw input, Ctrl-C in a busy loop, Ctrl-D; the terminal restored', async () => {
    const script = {
      argv: [BIN, 'interact'],
      env: { ...env(), TERM: 'xterm' },
      steps: [
        { expect: '>>>> ', timeout: 30 },
        { send: 'print(6*7)\r' },
        { expect: '42\r\n' },
        { expect: '>>>> ' },
        { send: 'while True: pass\r' },
        { send: '\r' },
        { sleep: 0.5 },
        { send: '\u0003' },
        { expect: 'KeyboardInterrupt' },
        { expect: '>>>> ' },
        { send: '\u0004' },
      ],
      exitTimeout: 10,
    };
    const r = await execa('python3', [DRIVER], { input: JSON.stringify(script), reject: false, timeout: 60_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const t = JSON.parse(r.stdout) as {
      failed: unknown;
      exitCode: number | null;
      termiosBefore: string;
      termiosAfter: string;
      output: string;
    };
    expect(t.failed, t.output).toBeNull();
    expect(t.exitCode).toBe(0);
    expect(t.termiosAfter).toBe(t.termiosBefore);
  });
});
