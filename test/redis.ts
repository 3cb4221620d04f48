/**
 * A real redis-server for the queue tests: the one CI started (PYPY_BOX_TEST_REDIS, a URL), or
 * one started here on a free loopback port. Null, with the reason, when there is no redis-server.
 */
import { execa, type ResultPromise } from 'execa';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export function redisServerPath(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const NO_REDIS = redisServerPath() === undefined && !process.env.PYPY_BOX_TEST_REDIS;
if (NO_REDIS)
  console.warn(
    'queue tests skipped: no redis-server on this host (apt-get install redis-server) and no PYPY_BOX_TEST_REDIS=redis://...',
  );

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** A redis-server of the test's own, its data in a directory of its own (kept across restarts). */
export class OwnRedis {
  private proc: ResultPromise | undefined;
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-redis-'));
  constructor(readonly port: number) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(persistent = false): Promise<OwnRedis> {
    const r = new OwnRedis(await freePort());
    r.persistent = persistent;
    await r.up();
    return r;
  }

  private persistent = false;

  /** Starts the server (again), and waits until it answers. */
  async up(): Promise<void> {
    const durable = this.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    this.proc = execa(
      redisServerPath()!,
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', ...durable],
      { reject: false, stdout: 'ignore', stderr: 'pipe' },
    );
    const end = Date.now() + 10_000;
    while (!(await answers(this.port))) {
      if (Date.now() > end || this.proc.exitCode !== null)
        throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops it (SIGTERM: with persistence on, it writes its data first). */
  async down(): Promise<void> {
    this.proc?.kill('SIGTERM');
    await this.proc;
    this.proc = undefined;
  }

  async stop(): Promise<void> {
    await this.down();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (b) => {
      s.destroy();
      resolve(b.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });
}
