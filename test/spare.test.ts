import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Controller } from '../src/index.js';
import { childPids, GUEST, ROOT, runGuest } from './helpers.js';

/** Our child processes that are idle spare supervisors. */
function spares(): number[] {
  return childPids().filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('--standby');
    } catch {
      return false;
    }
  });
}

/** The spare is started just after a run has been handled (setImmediate). */
const settle = () => new Promise((r) => setTimeout(r, 50));

describe('the spare supervisor', () => {
  afterEach(closeSpareSupervisor);

  it('is kept from the second supervised run on, used by the next run, and replaced', async () => {
    await closeSpareSupervisor();
    await runGuest(['call getpid()i']);
    await settle();
    expect(spares()).toEqual([]); // a single run (as from the command line) leaves none behind
    await runGuest(['call getpid()i']);
    await settle();
    const first = spares();
    expect(first).toHaveLength(1);
    const r = await runGuest(['call getpid()i', 'call write(ipi)i 1 s:via-spare 9']);
    expect(r.outcome).toBe('exited');
    expect(r.stdout.toString()).toBe('via-spare');
    expect(r.walls).toContain('rlimits');
    await settle();
    const second = spares();
    expect(second).toHaveLength(1);
    expect(second[0]).not.toBe(first[0]); // the first one became that run's supervisor and ended with it
    expect(fs.existsSync(`/proc/${first[0]}`)).toBe(false);
    await closeSpareSupervisor();
    expect(spares()).toEqual([]);
    expect(childPids()).toEqual([]);
  });

  it('gives the run its own arguments, limits and environment', async () => {
    await runGuest(['call getpid()i']);
    await runGuest(['call getpid()i']);
    await settle();
    expect(spares()).toHaveLength(1);
    // Arguments with spaces, an empty one, non-ASCII text; walls that only this run has.
    const r = await new Controller({
      executable: GUEST,
      args: ['call getpid()i', '', 'call write(ipi)i 1 s:é\\sx 4'],
      walls: { namespaces: false },
    }).run();
    expect(r.outcome).toBe('exited');
    expect(r.walls).toContain('rlimits');
    expect(r.walls).not.toContain('net-ns');
    expect(r.stdout.toString()).toBe('é x');
    const py = await new Controller({
      python: 'python3',
      args: ['-c', 'import os, sys; print(sys.argv[1:], os.environ.get("GREETING"), len(os.environ))', 'a b', '', 'ü'],
      env: { GREETING: 'hello world=1' },
    }).run();
    // GREETING, and HOME (a stock interpreter gets HOME=/tmp unless env sets it).
    expect(py.stdout.toString()).toBe("['a b', '', 'ü'] hello world=1 2\n");
  });

  it('for stock interpreters, has the child waiting in its walls; the run sets its own limits, or gets a fresh child', async () => {
    const code =
      'import os, resource; print(resource.getrlimit(resource.RLIMIT_CPU)[0], resource.getrlimit(resource.RLIMIT_NOFILE)[0], os.environ.get("W"), os.getpid())';
    const stock = (extra: Partial<ConstructorParameters<typeof Controller>[0]> = {}) =>
      new Controller({ python: 'python3', args: ['-c', code], env: { W: 'w' }, ...extra }).run();
    await closeSpareSupervisor();
    await stock();
    await stock();
    await settle();
    expect(spares()).toHaveLength(1);
    const limited = await stock({ limits: { cpuSeconds: 3, openFiles: 40 } });
    expect(limited.stdout.toString()).toBe(`3 ${512 + 40 + 64} w 2\n`);
    expect(limited.walls).toEqual(
      expect.arrayContaining(['rlimits', 'uid-per-run', 'net-ns', 'pid-ns', 'no-new-privs']),
    );
    // Other walls than the waiting child's, or a protocol guest: a fresh child, same results.
    await settle();
    const open = await stock({ walls: { namespaces: false } });
    expect(open.outcome).toBe('exited');
    expect(open.walls).not.toContain('net-ns');
    await settle();
    const proto = await runGuest(['call write(ipi)i 1 s:proto 5']);
    expect(proto.stdout.toString()).toBe('proto');
    await closeSpareSupervisor();
    expect(childPids()).toEqual([]);
  });

  it('is neither taken nor left by runs that ask for a fresh process', async () => {
    await closeSpareSupervisor();
    for (let k = 0; k < 3; k++) await runGuest(['call getpid()i'], { spareSupervisor: false });
    await settle();
    expect(spares()).toEqual([]);
    expect(() => new Controller({ executable: GUEST, spareSupervisor: 'yes' as never })).toThrow(/spareSupervisor/);
  });

  it('does not keep a Node program alive, and ends with it', async () => {
    const script = `
      import { closeSpareSupervisor, Controller } from ${JSON.stringify(path.join(ROOT, 'dist/src/index.js'))};
      for (let k = 0; k < 3; k++) await new Controller({ executable: ${JSON.stringify(GUEST)}, args: ['call getpid()i'] }).run();
      await new Promise((r) => setTimeout(r, 50));
      const kids = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => { try { return fs.readFileSync('/proc/' + p + '/cmdline', 'utf8').includes('--standby') && fs.readFileSync('/proc/' + p + '/stat', 'utf8').split(') ')[1].split(' ')[1] === String(process.pid); } catch { return false; } });
      console.log(kids.join(','));
      // Waiting for the spare to end keeps the program running until it has.
      if (process.argv[2] === 'close') {
        await closeSpareSupervisor();
        console.log('closed');
      }
    `;
    const file = path.join(ROOT, 'build/test/spare-exit.mjs');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, `import fs from 'node:fs';\n${script}`);
    const t0 = Date.now();
    const { stdout } = await promisify(execFile)(process.execPath, [file], { timeout: 20_000 });
    expect(Date.now() - t0).toBeLessThan(10_000); // the idle spare (30 s) did not hold the program
    const pids = stdout.trim().split(',').filter(Boolean);
    expect(pids).toHaveLength(1);
    // Its stdin closed with the program: the spare ends by itself.
    for (let k = 0; k < 100 && fs.existsSync(`/proc/${pids[0]}`); k++) await new Promise((r) => setTimeout(r, 20));
    expect(fs.existsSync(`/proc/${pids[0]}`)).toBe(false);
    const closing = await promisify(execFile)(process.execPath, [file, 'close'], { timeout: 20_000 });
    expect(closing.stdout.trim().split('\n').at(-1)).toBe('closed');
  });
});
