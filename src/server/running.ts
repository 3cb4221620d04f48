/**
 * The command servers running with their sockets under a directory, and their workers, found by
 * their command lines in /proc (`pypy-box.cjs --server SOCKET`): for `pypy-box server`, and for
 * the tests and the bench, which start servers of their own and end them.
 */
import fs from 'node:fs';

export function serversUnder(dir: string): number[] {
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      const i = argv.indexOf('--server');
      if (i > 0 && argv[i + 1]?.startsWith(`${dir}/`)) pids.push(Number(name));
    } catch {
      // ended meanwhile
    }
  }
  return pids;
}

/** The workers of a server: its children running `--server-worker`. */
export function workersOf(pid: number): number[] {
  const workers: number[] = [];
  for (const name of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid && fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('--server-worker'))
        workers.push(Number(name));
    } catch {
      // ended meanwhile
    }
  }
  return workers;
}
