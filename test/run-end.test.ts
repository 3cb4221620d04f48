import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { processes, ROOT } from './helpers.js';

/*
 * A run ended at any moment (its host killed, or its supervisor told to stop) leaves nothing behind:
 * no supervisor, no guest's child, no PID namespace's init, no guest, no cgroup. The host runs
 * stock pypy3 runs one after another (the spare supervisor included) in a session of its own, so
 * that every process of its runs can be found by that session after the host is gone.
 */

const SUPERVISOR = path.resolve(process.env.PYPY_BOX_SUPERVISOR ?? path.join(ROOT, 'build/native/pypy-box-supervisor'));
const HOST = path.join(ROOT, 'build/test/run-end-host.mjs');
const HOST_SCRIPT = `
import { Controller } from ${JSON.stringify(path.join(ROOT, 'dist/src/index.js'))};
const walls = process.argv[2] === 'no-namespaces' ? { namespaces: false } : {};
process.stdout.write('ready\\n');
for (;;) await new Controller({ python: 'pypy3', args: ['-c', 'pass'], walls, timeout: 30000 }).run().catch(() => {});
`;

interface Proc {
  pid: number;
  state: string;
  exe: string;
}

/** The processes of a session that have not ended (zombies have), from /proc. */
function sessionProcesses(sid: number): Proc[] {
  return processes()
    .filter((p) => p.session === sid && p.state !== 'Z')
    .map((p) => ({ pid: p.pid, state: p.state, exe: exeOf(p.pid) }));
}

function exeOf(pid: number): string {
  try {
    return fs.readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return ''; // a kernel thread, or gone
  }
}

/** Where a supervisor of pid would have made the run's cgroup, for each hierarchy we are in. */
function runCgroupDirs(pid: number): string[] {
  const dirs: string[] = [];
  for (const line of fs.readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n')) {
    const [id, controllers, own] = line.split(':');
    const mounts =
      id === '0'
        ? ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']
        : controllers.split(',').map((c) => `/sys/fs/cgroup/${c.replace(/^name=/, '')}`);
    for (const m of mounts) for (const base of [m + own, m]) dirs.push(path.join(base, 'pypy-box', String(pid)));
  }
  return [...new Set(dirs)];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts a host in its own session; resolves once it has loaded the library. */
async function startHost(namespaces: boolean): Promise<number> {
  const host = spawn(process.execPath, [HOST, namespaces ? 'namespaces' : 'no-namespaces'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  host.on('error', () => {});
  await new Promise<void>((resolve) => host.stdout!.once('data', () => resolve()));
  host.stdout!.resume();
  return host.pid!;
}

/** Sleeps ms (fractions too) without yielding: the watch must not miss a start-up of a few ms. */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The host's children that are supervisors (spares and runs). */
function supervisorsOf(host: number): number[] {
  let kids: string[];
  try {
    kids = fs.readFileSync(`/proc/${host}/task/${host}/children`, 'utf8').trim().split(' ').filter(Boolean);
  } catch {
    return [];
  }
  return kids.map(Number).filter((pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/exe`) === SUPERVISOR;
    } catch {
      return false;
    }
  });
}

/**
 * One round: a host whose runs (in namespaces or not) are ended during `span` ms, by `how`: its death at the end of the
 * span (the supervisors' parent-death signal is SIGTERM), or SIGTERM to each supervisor `jitter(n)`
 * ms after it is seen (its child starting up, in its namespaces, the listener on its way), then the
 * host's death. Returns what was left of its runs `grace` ms after, and how many supervisors it had.
 */
async function round(
  how: 'kill-host' | 'term-supervisors',
  namespaces: boolean,
  span: number,
  jitter: (n: number) => number,
  grace: number,
) {
  const sid = await startHost(namespaces);
  const supervisors = new Set<number>();
  const until = Date.now() + span;
  while (Date.now() < until) {
    for (const pid of supervisorsOf(sid)) {
      if (supervisors.has(pid)) continue;
      supervisors.add(pid);
      if (how === 'kill-host') continue;
      pause(jitter(supervisors.size));
      signal(pid, 'SIGTERM');
    }
    pause(0.2);
    await sleep(0); // the timers of this process still run
  }
  signal(sid, 'SIGKILL');
  const end = Date.now() + grace;
  let left = sessionProcesses(sid);
  while (left.length && Date.now() < end) {
    await sleep(10);
    left = sessionProcesses(sid);
  }
  for (const p of left) if (p.exe === SUPERVISOR) supervisors.add(p.pid);
  const groups = [...supervisors].flatMap(runCgroupDirs).filter((d) => fs.existsSync(d));
  return { left, groups, supervisors: supervisors.size };
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* gone already */
  }
}

/** Whatever a failed round left is ended here, so that the next rounds and tests start clean. */
function cleanUp(left: Proc[], groups: string[]): void {
  for (const p of left) signal(p.pid, 'SIGKILL');
  for (const d of groups) {
    try {
      fs.rmdirSync(d);
    } catch {
      /* still busy: the next supervisor's sweep removes it */
    }
  }
}

describe('the end of a run at any moment', () => {
  it('leaves no process and no cgroup of the run, whenever its host dies or its supervisor is told to stop', async () => {
    fs.mkdirSync(path.dirname(HOST), { recursive: true });
    fs.writeFileSync(HOST, HOST_SCRIPT);
    const rounds = Number(process.env.PYPY_BOX_END_ROUNDS ?? 32);
    const failures: string[] = [];
    let seen = 0;
    for (let k = 0; k < rounds; k++) {
      const how = k % 4 === 3 ? 'kill-host' : 'term-supervisors';
      // The host's death from right after its first spawn to a few runs in; SIGTERMs over the first ms of each supervisor.
      const span = how === 'kill-host' ? 20 + ((k * 37) % 400) : 2000;
      const namespaces = k % 3 !== 2; // without them, the child is the guest itself
      const r = await round(how, namespaces, span, (n) => ((k * 13 + n * 7) % 60) / 4, 1000);
      seen += r.supervisors;
      if (r.left.length || r.groups.length)
        failures.push(
          `${how}${namespaces ? '' : ' without namespaces'} (round ${k}): left ${JSON.stringify(r.left)} ${r.groups.join(' ')}`,
        );
      cleanUp(r.left, r.groups);
    }
    fs.rmSync(HOST, { force: true });
    expect(seen).toBeGreaterThan(rounds); // the rounds did reach runs, and more than one per host
    expect(failures).toEqual([]);
  }, 300_000);
});
