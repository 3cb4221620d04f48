/**
 * `pypy-box server status|stop`: the user's command servers (docs/server.md), found where the
 * native client keeps their sockets, with their processes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { serversUnder, workersOf } from '../server/running.js';
import { ExitCode } from './exit-codes.js';

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** The directory of the user's sockets, as the client chooses it (src/server/native/place.c). */
export function socketDirectory(env: NodeJS.ProcessEnv = process.env): string {
  let base = env.XDG_RUNTIME_DIR;
  try {
    if (!base?.startsWith('/') || !fs.statSync(base).isDirectory()) base = '/tmp';
  } catch {
    base = '/tmp';
  }
  return path.join(base, `pypy-box-${process.geteuid?.() ?? 0}`);
}

const socketOf = (pid: number) => {
  try {
    const argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return argv[argv.indexOf('--server') + 1] ?? '?';
  } catch {
    return '?';
  }
};

export function serverCommand(args: string[], io: Io): number {
  const [what, ...rest] = args;
  if ((what !== 'status' && what !== 'stop') || rest.length > 0) {
    io.stderr.write('pypy-box: usage: pypy-box server status|stop\n');
    return ExitCode.usage;
  }
  const dir = socketDirectory();
  const servers = serversUnder(dir);
  if (what === 'status') {
    if (servers.length === 0) io.stdout.write(`no command server (sockets in ${dir})\n`);
    for (const pid of servers) io.stdout.write(`pid ${pid}, ${workersOf(pid).length} worker(s), ${socketOf(pid)}\n`);
    return 0;
  }
  // Idle workers end with their server; a worker in a run ends when the run has.
  for (const pid of servers) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // ended meanwhile
    }
  }
  io.stdout.write(`${servers.length} command server(s) stopped\n`);
  return 0;
}
