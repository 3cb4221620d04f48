/**
 * The command server: keeps warm workers (src/server/worker.ts) and hands each client that
 * connects to a free one, starting another when all are busy. It listens on the socket the client named (its
 * context's, src/server/native/place.c), in a directory only its user can enter, and ends when it
 * has been idle for a while, or when its socket is removed or taken over.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { constants as osConstants } from 'node:os';
import { FRAME } from '../supervisor/contract/contract.js';
import { frame } from './frames.js';

/** Idle this long (no run going, none asked for), the server ends; PYPY_BOX_SERVER_IDLE_MS sets it. */
const IDLE_MS = 15 * 60_000;
/** How often the server checks that its socket is still its own. */
const CHECK_MS = 10_000;
/** Workers that end before being ready, in a row, after which the server gives up. */
const MAX_FAILED_STARTS = 3;
/** Runs at once (a worker each); more clients wait for one to be free. */
const MAX_WORKERS = 4;
/** A worker is retired after this many runs (what a long life might gather, it does not keep); PYPY_BOX_SERVER_RUNS sets it. */
const MAX_RUNS = 200;

/**
 * Serves on socket (its path, as clients and `ps` know it). dirFd: the socket's directory as the
 * client checked it, held open for the server: the socket is made and checked through it.
 */
export async function serve(socket: string, dirFd?: number): Promise<void> {
  const idleMs = Number(process.env.PYPY_BOX_SERVER_IDLE_MS) || IDLE_MS;
  if (dirFd !== undefined && !ownDirectory(dirFd)) process.exit(1);
  const socketPath = dirFd !== undefined ? `/proc/self/fd/${dirFd}/${path.basename(socket)}` : socket;
  const server = net.createServer({ pauseOnConnect: true });
  if (!(await listen(server, socketPath))) process.exit(0);
  const inode = fs.statSync(socketPath).ino;
  const entry = identity(process.argv[1]!);
  const pool = new WorkerPool(() => {
    server.close();
    if (ownsSocket(socketPath, inode)) fs.rmSync(socketPath, { force: true });
    process.exit(0);
  }, idleMs);
  server.on('connection', (client) => pool.take(client));
  // A socket removed or taken over, or the package rebuilt, reinstalled or removed: the next
  // client starts a server of the new one.
  setInterval(() => {
    if (!ownsSocket(socketPath, inode) || identity(process.argv[1]!) !== entry) pool.shutDown();
  }, CHECK_MS).unref();
  process.on('SIGTERM', () => pool.shutDown());
  process.on('SIGINT', () => pool.shutDown());
}

interface Worker {
  child: ChildProcess;
  /** Retired (its runs done): it takes no client, and its end is no failure. */
  retired?: boolean;
  /** The client it runs for, if any. */
  client?: net.Socket;
  ready: boolean;
  runs: number;
}

/** The workers, the clients waiting for one, and the server's idle time. */
class WorkerPool {
  private readonly workers = new Set<Worker>();
  private readonly waiting: net.Socket[] = [];
  private failedStarts = 0;
  private readonly maxRuns = Number(process.env.PYPY_BOX_SERVER_RUNS) || MAX_RUNS;
  private idle: NodeJS.Timeout | undefined;

  constructor(
    private readonly end: () => void,
    private readonly idleMs: number,
  ) {
    this.startWorker();
    this.armIdle();
  }

  take(client: net.Socket): void {
    clearTimeout(this.idle);
    client.on('error', () => undefined);
    client.once('close', () => {
      const i = this.waiting.indexOf(client);
      if (i >= 0) this.waiting.splice(i, 1);
      this.armIdle();
    });
    // Every worker busy, and no more to start: the client runs its command itself (in Node) at
    // once rather than wait for a run that may last (a prompt); closed before a word of a worker.
    const free = [...this.workers].some((w) => !w.client);
    if (!free && this.workers.size >= MAX_WORKERS) return void client.destroy();
    this.waiting.push(client);
    this.dispatch();
  }

  /** The server ends; its workers end with it when their runs have (their IPC channel closes). */
  shutDown(): void {
    for (const c of this.waiting) c.destroy();
    this.end();
  }

  private dispatch(): void {
    for (const w of this.workers) {
      if (this.waiting.length === 0) return;
      if (w.ready && !w.client) this.hand(w, this.waiting.shift()!);
    }
    const starting = [...this.workers].some((w) => !w.ready);
    if (this.waiting.length > 0 && !starting && this.workers.size < MAX_WORKERS) this.startWorker();
  }

  /**
   * The worker takes the client's socket (the server keeps its own copy, never reading it): when
   * the worker ends without having sent the run's status (killed), the server sends it.
   */
  private hand(w: Worker, client: net.Socket): void {
    w.client = client;
    w.child.send('invocation', client, { keepOpen: true });
  }

  private startWorker(): void {
    const child = spawn(process.execPath, [process.argv[1]!, '--server-worker'], {
      stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    });
    const w: Worker = { child, ready: false, runs: 0 };
    this.workers.add(w);
    child.on('message', (m) => {
      if (m === 'ready') {
        w.ready = true;
        this.failedStarts = 0;
      } else if (m === 'free' && w.client) {
        w.client.destroy();
        w.client = undefined;
        if (++w.runs >= this.maxRuns) {
          w.retired = true;
          this.workers.delete(w);
          child.kill();
        }
      }
      this.dispatch();
      this.armIdle();
    });
    child.once('exit', (code, signal) => {
      this.workers.delete(w);
      if (w.retired) return this.keepOne();
      if (w.client) {
        const number = signal ? (osConstants.signals[signal] ?? 0) : 0;
        w.client.end(frame(FRAME.exit, Buffer.from([(code ?? 0) & 0xff, number])));
      } else if (!w.ready && ++this.failedStarts >= MAX_FAILED_STARTS) {
        // Workers cannot start here: the clients waiting run their commands themselves (client.c).
        return this.shutDown();
      }
      this.keepOne();
    });
  }

  /** A worker ended (retired, or its client gone): one is kept ready for the next client. */
  private keepOne(): void {
    if (this.workers.size === 0) this.startWorker();
    this.dispatch();
    this.armIdle();
  }

  private armIdle(): void {
    clearTimeout(this.idle);
    const running = [...this.workers].some((w) => w.client);
    if (!running && this.waiting.length === 0) this.idle = setTimeout(() => this.shutDown(), this.idleMs);
  }
}

/** Listens on path; false when another server answers there. A socket file nobody answers on is stale. */
async function listen(server: net.Server, path: string): Promise<boolean> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const err = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
      server.once('error', resolve);
      server.listen(path, () => resolve(undefined));
    });
    if (!err) return true;
    if (err.code !== 'EADDRINUSE' || (await answers(path))) return false;
    fs.rmSync(path, { force: true });
  }
  return false;
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

/** The descriptor is a directory of this user's alone (the client checked it; so does the server). */
function ownDirectory(fd: number): boolean {
  try {
    const st = fs.fstatSync(fd);
    return st.isDirectory() && st.uid === process.geteuid?.() && (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

function identity(file: string): string {
  try {
    const st = fs.statSync(file);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return 'gone';
  }
}

function ownsSocket(path: string, inode: number): boolean {
  try {
    return fs.statSync(path).ino === inode;
  } catch {
    return false;
  }
}
