import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Controller, OptionError, type ControllerOptions, type RunResult } from '../src/index.js';
import { refusedRun, ROOT } from './helpers.js';

/** Ranges of this file's own, far from the default one that other runs on the machine use. */
const PAIR = { first: 3_000_000, count: 2 };
const SINGLE = { first: 3_000_100, count: 1 };

/** Host uids of this process's descendants (the guests and their namespaces' init and relay). */
function descendantUids(): Set<number> {
  const parent = new Map<number, number>();
  const uid = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const status = fs.readFileSync(`/proc/${name}/status`, 'utf8');
      parent.set(Number(name), Number(/^PPid:\s+(\d+)/m.exec(status)![1]));
      uid.set(Number(name), Number(/^Uid:\s+(\d+)/m.exec(status)![1]));
    } catch {
      /* gone */
    }
  }
  const mine = (pid: number): boolean => {
    for (let p = parent.get(pid), k = 0; p !== undefined && k < 64; p = parent.get(p), k++)
      if (p === process.pid) return true;
    return false;
  };
  return new Set([...uid].filter(([pid, u]) => u !== 0 && mine(pid)).map(([, u]) => u));
}

/** A guest that says it is running, then waits for its stdin to end (the test ends it). */
function waiting(extra: Partial<ControllerOptions> = {}): {
  run: Promise<RunResult>;
  started: Promise<void>;
  release: () => void;
  output: () => string;
} {
  let out = '';
  let release!: () => void;
  let started!: () => void;
  const startedP = new Promise<void>((r) => (started = r));
  const stdin = new ReadableFromPromise(new Promise<void>((r) => (release = r)));
  const run = new Controller({
    python: 'python3',
    args: ['-c', 'import sys; print("up", flush=True); sys.stdin.read(); print("done")'],
    stdin,
    stdout: (b) => {
      out += b.toString();
      if (out.includes('up')) started();
    },
    timeout: 60_000,
    ...extra,
  }).run();
  run.catch(() => started());
  return { run, started: startedP, release, output: () => out };
}

/** A stdin that ends (empty) when the promise settles. */
class ReadableFromPromise extends Readable {
  constructor(private readonly until: Promise<void>) {
    super();
  }
  private asked = false;
  override _read(): void {
    if (this.asked) return;
    this.asked = true;
    void this.until.then(() => this.push(null));
  }
}

describe('identity options', () => {
  it('are checked up front, with the option named', () => {
    const make = (identityRange: unknown) => () =>
      new Controller({ python: 'python3', identityRange: identityRange as never });
    expect(make({ first: 0, count: 5 })).toThrow(OptionError);
    expect(make({ first: 0, count: 5 })).toThrow(/identityRange.first: must be at least 1/);
    expect(make({ first: 10, count: 0 })).toThrow(/identityRange.count/);
    expect(make({ first: 0xfffffff0, count: 100 })).toThrow(/must end below 4294967295/);
    expect(make({ first: 10 })).toThrow(/first and count together/);
    expect(make({ lockFile: 'relative.lock' })).toThrow(/identityRange.lockFile/);
    expect(make({ first: 1_000_000, count: 65_536, lockFile: '/run/pypy-box/uids.lock' })).not.toThrow();
  });
});

describe.runIf(process.getuid?.() === 0)('one host uid per run (as root)', () => {
  afterAll(closeSpareSupervisor);

  it('gives concurrent runs different uids from the range, and refuses a run when none is free', async () => {
    const a = waiting({ identityRange: PAIR });
    const b = waiting({ identityRange: PAIR, spareSupervisor: false });
    await Promise.all([a.started, b.started]);
    const held = [...descendantUids()].filter((u) => u >= PAIR.first && u < PAIR.first + PAIR.count).sort();
    expect(held).toEqual([PAIR.first, PAIR.first + 1]);
    const err = await refusedRun({ python: 'python3', args: ['-c', 'print(1)'], identityRange: PAIR });
    expect(err.kind).toBe('spawn');
    expect(err.message).toMatch(
      /no free uid: all 2 of 3000000\.\.3000001 are in use by other runs \(lock file \/run\/pypy-box\/uids\.lock\)$/,
    );
    a.release();
    b.release();
    for (const r of await Promise.all([a.run, b.run])) {
      expect(r.outcome).toBe('exited');
      expect(r.walls).toContain('uid-per-run');
    }
    expect([a.output(), b.output()]).toEqual(['up\ndone\n', 'up\ndone\n']);
    // Ended runs leave no claim behind.
    const again = await new Controller({ python: 'python3', args: ['-c', 'print(2)'], identityRange: PAIR }).run();
    expect(again.stdout.toString()).toBe('2\n');
  });

  it('keeps a uid unique across Node processes', async () => {
    const script = path.join(ROOT, 'build/test/identity-holder.mjs');
    fs.mkdirSync(path.dirname(script), { recursive: true });
    fs.writeFileSync(
      script,
      `import { Controller } from ${JSON.stringify(path.join(ROOT, 'dist/src/index.js'))};
       const r = await new Controller({ python: 'python3', args: ['-c', 'import sys; print("up", flush=True); sys.stdin.read()'], identityRange: ${JSON.stringify(SINGLE)}, stdin: process.stdin, stdout: 'inherit' }).run();
       console.log(r.outcome, r.walls.includes('uid-per-run'));`,
    );
    const other = execFile(process.execPath, [script]);
    const out: string[] = [];
    const up = new Promise<void>((resolve) =>
      other.stdout!.on('data', (b: Buffer) => (out.push(b.toString()), out.join('').includes('up') && resolve())),
    );
    await up;
    const err = await refusedRun({ python: 'python3', args: ['-c', 'print(1)'], identityRange: SINGLE });
    expect(err.message).toMatch(/no free uid: all 1 of 3000100\.\.3000100/);
    other.stdin!.end();
    await promisify((cb: (e: Error | null) => void) => other.once('exit', () => cb(null)))();
    expect(out.join('')).toBe('up\nexited true\n');
    const after = await new Controller({ python: 'python3', args: ['-c', 'print(3)'], identityRange: SINGLE }).run();
    expect(after.stdout.toString()).toBe('3\n');
  });

  it('has the spare claim its uid as it starts: its waiting child already runs as it', async () => {
    await closeSpareSupervisor();
    const before = descendantUids();
    expect(before.size).toBe(0);
    await new Controller({ python: 'python3', args: ['-c', 'print(1)'] }).run();
    await new Controller({ python: 'python3', args: ['-c', 'print(1)'] }).run();
    let spare = new Set<number>();
    for (let k = 0; k < 100 && spare.size === 0; k++) {
      await new Promise((r) => setTimeout(r, 20));
      spare = descendantUids();
    }
    expect(spare.size).toBe(1);
    const [id] = spare;
    expect(id).toBeGreaterThanOrEqual(1_000_000);
    expect(id).toBeLessThan(1_000_000 + 65_536);
    // The next run takes that child, and that uid.
    const r = waiting();
    await r.started;
    expect(descendantUids()).toContain(id);
    r.release();
    await r.run;
  });

  it(
    'does not start in a user namespace that maps too few ids (a container), and says so',
    { timeout: 60_000 },
    async () => {
      // `unshare -Ur`: root inside, and only that one id mapped.
      const script = path.join(ROOT, 'build/test/identity-in-userns.mjs');
      const lockFile = path.join(ROOT, 'build/test/userns-uids.lock');
      fs.rmSync(lockFile, { force: true });
      fs.writeFileSync(
        script,
        `import { Controller } from ${JSON.stringify(path.join(ROOT, 'dist/src/index.js'))};
       try {
         await new Controller({ python: 'python3', args: ['-c', 'print(1)'], identityRange: { lockFile: ${JSON.stringify(lockFile)} } }).run();
         console.log('started');
       } catch (e) {
         console.log(e.message);
       }`,
      );
      const { stdout } = await promisify(execFile)('unshare', ['-Ur', process.execPath, script], { timeout: 50_000 });
      const python = fs.realpathSync('/usr/bin/python3');
      expect(stdout.trim()).toBe(
        `cannot start ${python}: the uid range 1000000..1065535 is not mapped in this user namespace (a container?): give one inside it (--uid-range)`,
      );
    },
  );

  it('does not start without a usable lock file, and says why', async () => {
    const notDir = await refusedRun({
      python: 'python3',
      args: ['-c', 'print(1)'],
      identityRange: { lockFile: '/proc/version/uids.lock' },
    });
    expect(notDir.kind).toBe('spawn');
    expect(notDir.message).toMatch(
      /cannot open the uid lock file \/proc\/version\/uids\.lock: Not a directory \(ENOTDIR\)$/,
    );
    const open = path.join(ROOT, 'build/test/open-uids.lock');
    fs.mkdirSync(path.dirname(open), { recursive: true });
    fs.writeFileSync(open, '');
    fs.chmodSync(open, 0o644); // others could read it, and hold read locks on every uid
    const loose = await refusedRun({
      executable: path.join(ROOT, 'build/test/guest'),
      args: ['call getpid()i'],
      identityRange: { lockFile: open },
    });
    expect(loose.message).toMatch(/uid lock file .*open-uids\.lock is not a regular file of ours closed to others/);
  });
});
