import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller, Policy, type ControllerOptions } from '../src/index.js';
import { CLI, FIXTURES, ROOT } from './helpers.js';

// The real sandboxed PyPy builds (../shared/pypy-sandbox, unpacked by the global setup) through
// the library and through the command line as a user types it.

const BUILDS = path.join(ROOT, 'build/pypy-sandbox');
const PYPYS = [
  { name: 'PyPy 2.7', dir: path.join(BUILDS, 'pypy2.7-sandbox'), binary: 'pypy-c', denied: 'IOError' },
  { name: 'PyPy 3.6', dir: path.join(BUILDS, 'pypy3.6-sandbox'), binary: 'pypy3-c', denied: 'PermissionError' },
].map((p) => ({ ...p, exe: path.join(p.dir, p.binary) }));
const havePyPys = PYPYS.every((p) => fs.existsSync(p.exe));
if (!havePyPys)
  console.warn(
    `pypy-sandbox tests: ${BUILDS} is missing (the archives of ../shared/pypy-sandbox, or PYPY_BOX_SANDBOX_ARCHIVES): the real sandboxed PyPy tests are skipped`,
  );

const PROJECT = path.join(FIXTURES, 'project');
/** What a guest lists in the granted fixture: its names but the hidden ones. */
const PROJECT_LISTING = fs
  .readdirSync(PROJECT)
  .filter((n) => !n.startsWith('.'))
  .sort();
/** Library modules, one line that both Python versions print alike. */
const IMPORTS = [
  'import json, re, decimal, collections, datetime',
  'print("%s|%s|%s|%s|%s" % (json.dumps({"a": [1, 2]}), re.sub(r"(\\d+)", r"<\\1>", "x42y"), decimal.Decimal("1.1") + decimal.Decimal("2.2"), collections.Counter("abracadabra").most_common(1)[0], datetime.date(2020, 2, 29) + datetime.timedelta(days=1)))',
].join('\n');
const IMPORTS_OUT = '{"a": [1, 2]}|x<42>y|3.3|(\'a\', 5)|2020-03-01\n';

function cli(args: string[], timeout = 60_000) {
  return execa(process.execPath, [CLI, ...args], { reject: false, env: { NO_COLOR: '1' }, timeout, stdin: 'ignore' });
}

/** Processes on the host whose command line holds marker (the guest's code carries it). */
function processesWith(marker: string): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** A host directory's names and contents, to show a run left it as it was. */
function contentsOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of fs.readdirSync(dir)) out[n] = fs.readFileSync(path.join(dir, n), 'utf8');
  return out;
}

/** A guest that writes /tmp/x, then tries to write outside /tmp, and says what each attempt gave. */
function writesCode(outside: string[]): string {
  return [
    'import os',
    'with open("/tmp/x", "w") as f: f.write("in memory")',
    'with open("/tmp/x") as f: print("tmp: " + f.read())',
    `for p in ${JSON.stringify(outside)}:`,
    '    try:',
    '        open(p, "w").close()',
    '        print("written: " + p)',
    '    except (IOError, OSError) as e:',
    '        print("refused: %s errno %d" % (p, e.errno))',
    'print(sorted(os.listdir("/tmp")))',
  ].join('\n');
}

describe.skipIf(!havePyPys).concurrent('real sandboxed PyPy builds', () => {
  let work: string; // a host directory shown at /tmp (--tmp), with a script in it
  beforeAll(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-sandboxed-'));
    fs.writeFileSync(path.join(work, 'script.py'), 'import sys\nprint("script %s says %d" % (sys.argv[0], 6 * 7))\n');
  });
  afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const p of PYPYS) {
    const base = (o: Partial<ControllerOptions> = {}): ControllerOptions => ({
      executable: p.exe,
      libPath: p.dir,
      spareSupervisor: false,
      timeout: 60_000,
      ...o,
    });
    const run = (code: string, o: Partial<ControllerOptions> = {}) =>
      new Controller(base({ args: ['-S', '-c', code], ...o })).run();
    const interact = (opts: string[], code: string, timeout?: number) =>
      cli(['interact', '--lib-path', p.dir, ...opts, p.exe, '-S', '-c', code], timeout);

    describe.concurrent(`${p.name} through the library`, () => {
      it('starts without a warning: the machine it reads about is made up', async () => {
        const r = await run('print(6*7)');
        expect(r).toMatchObject({ outcome: 'exited', exitCode: 0, guestStderr: '' });
        expect(r.stdout.toString()).toBe('42\n');
        expect(r.denied.filter((d) => d.path.startsWith('/proc'))).toEqual([]);
      });

      it('prints, and imports json, re, decimal, collections and datetime from its library', async () => {
        const r = await run(`print(6*7)\n${IMPORTS}`);
        expect(r).toMatchObject({ outcome: 'exited', exitCode: 0 });
        expect(r.stdout.toString()).toBe(`42\n${IMPORTS_OUT}`);
        // Refused: only the bytecode caches it tries to write beside the library's sources.
        for (const d of r.denied)
          expect(d).toMatchObject({
            op: 'create',
            path: expect.stringMatching(/^\/lib\/lib(-python|_pypy)\/.*(\.pyc|__pycache__)$/),
            errno: 30,
            reason: 'host files are never written',
          });
      });

      it('lists a granted host directory, hidden names left out', async () => {
        const r = await run(`import os\nprint(sorted(os.listdir(${JSON.stringify(PROJECT)})))`, {
          policy: new Policy().allowRead(PROJECT),
        });
        expect(r).toMatchObject({ outcome: 'exited', exitCode: 0 });
        expect(r.stdout.toString()).toBe(`[${PROJECT_LISTING.map((n) => `'${n}'`).join(', ')}]\n`);
      });

      it('runs a script from the host directory shown at /tmp', async () => {
        const r = await new Controller(base({ tmpDir: work, args: ['-S', '/tmp/script.py'] })).run();
        expect(r).toMatchObject({ outcome: 'exited', exitCode: 0 });
        expect(r.stdout.toString()).toBe('script /tmp/script.py says 42\n');
      });

      it('writes /tmp in memory only; a write elsewhere is refused and reported', async () => {
        const before = contentsOf(work);
        const r = await run(writesCode(['/tmp/script.py', '/lib/evil.py', `${PROJECT}/new.txt`]), {
          tmpDir: work,
          policy: new Policy().allowRead(PROJECT),
        });
        expect(r).toMatchObject({ outcome: 'exited', exitCode: 0 });
        expect(r.stdout.toString()).toBe(
          [
            'tmp: in memory',
            'written: /tmp/script.py',
            'refused: /lib/evil.py errno 30',
            `refused: ${PROJECT}/new.txt errno 30`,
            "['script.py', 'x']",
            '',
          ].join('\n'),
        );
        expect(contentsOf(work)).toEqual(before);
        expect(fs.existsSync(path.join(PROJECT, 'new.txt'))).toBe(false);
        expect(r.vfs.snapshot('/tmp')).toMatchObject({ x: Buffer.from('in memory'), 'script.py': Buffer.alloc(0) });
      });

      it('imports from its read-only library without a denial (no bytecode caches written)', async () => {
        const r = await run('import json, decimal, collections; print(1)');
        expect(r).toMatchObject({ outcome: 'exited', exitCode: 0, denials: 0 });
      });

      it('refuses /etc/passwd with EACCES, and the result says why', async () => {
        const r = await run("open('/etc/passwd')");
        expect(r).toMatchObject({ outcome: 'exited', exitCode: 1 });
        expect(r.stderr.toString()).toContain(`${p.denied}: [Errno 13] Permission denied: '/etc/passwd'`);
        // The denial names the directory the walk was refused at, with the policy's reason.
        expect(r.denied).toContainEqual(
          expect.objectContaining({
            sig: 'open(pii)i',
            op: 'read',
            path: '/etc',
            errno: 13,
            reason: "/etc is outside the sandbox's filesystem (not whitelisted)",
            count: 1,
          }),
        );
      });

      it('ends an endless loop at the timeout and leaves no process', async () => {
        const marker = `loop-${randomBytes(6).toString('hex')}`;
        const started = Date.now();
        const r = await run(`while True: pass  # ${marker}`, { timeout: 1000 });
        expect(r).toMatchObject({ outcome: 'timeout', limit: { name: 'timeout', value: 1000 } });
        expect(Date.now() - started).toBeLessThan(20_000);
        expect(processesWith(marker)).toEqual([]);
      });

      it('ends an allocation beyond --heapsize as the heap limit', async () => {
        const r = await run('x = [bytearray(1 << 20) for i in range(400)]\nprint(len(x))', {
          limits: { heapBytes: 64 << 20 },
        });
        expect(r).toMatchObject({ outcome: 'limit', limit: { name: 'heap', value: 64 << 20 } });
        expect(r.stdout.toString()).toBe('');
      });
    });

    describe.concurrent(`${p.name} from the command line`, () => {
      it('prints, and imports from its library', async () => {
        const r = await interact([], `print(6*7)\n${IMPORTS}`);
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toBe(`42\n${IMPORTS_OUT.trimEnd()}`);
      });

      it('--allow-read lists a granted host directory', async () => {
        const r = await interact(
          ['--allow-read', PROJECT],
          `import os\nprint(sorted(os.listdir(${JSON.stringify(PROJECT)})))`,
        );
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toBe(`[${PROJECT_LISTING.map((n) => `'${n}'`).join(', ')}]`);
      });

      it('--tmp shows a host directory at /tmp, the cwd: a script runs by its name', async () => {
        const scripts = ['script.py', '/tmp/script.py'];
        const results = await Promise.all(
          scripts.map((script) => cli(['interact', '--lib-path', p.dir, '--tmp', work, p.exe, '-S', script])),
        );
        scripts.forEach((script, i) => {
          expect(results[i]!.exitCode).toBe(0);
          expect(results[i]!.stdout).toBe(`script ${script} says 42`);
        });
      });

      it('--tmp: writes go to memory, the host directory is unchanged, writes elsewhere are refused', async () => {
        const before = contentsOf(work);
        const r = await interact(
          ['--tmp', work, '--allow-read', PROJECT],
          writesCode(['/tmp/script.py', '/etc/new.conf', `${PROJECT}/new.txt`]),
        );
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toBe(
          [
            'tmp: in memory',
            'written: /tmp/script.py',
            'refused: /etc/new.conf errno 13',
            `refused: ${PROJECT}/new.txt errno 30`,
            "['script.py', 'x']",
          ].join('\n'),
        );
        expect(contentsOf(work)).toEqual(before);
        expect(fs.existsSync('/etc/new.conf')).toBe(false);
      });

      it('refuses /etc/passwd: the guest sees EACCES, --verbose gives the reason', async () => {
        const r = await interact(['--verbose'], "open('/etc/passwd')");
        expect(r.exitCode).toBe(1);
        expect(r.stderr).toContain(`${p.denied}: [Errno 13] Permission denied: '/etc/passwd'`);
        expect(r.stderr).toMatch(
          /open\("\/etc\/passwd", \d+, \d+\)( \[answered by the supervisor\])? = -1 EACCES \(denied: \/etc is outside the sandbox/,
        );
        expect(r.stderr).toMatch(/\d+ calls, [1-9]\d* denied/);
      });

      it('check: every declared call implemented, exit 0; --json says the same', async () => {
        const [r, j] = await Promise.all([cli(['check', p.exe]), cli(['check', '--json', p.exe])]);
        expect(r.exitCode).toBe(0);
        const m =
          /^(.*): protocol version 20001, platform (\S+)\n(\d+) calls declared, (\d+) implemented, 0 not implemented\nresult: ok$/.exec(
            r.stdout,
          );
        expect(m, r.stdout).not.toBeNull();
        expect(m![1]).toBe(p.exe);
        expect(Number(m![3])).toBeGreaterThan(100);
        expect(m![4]).toBe(m![3]);
        expect(j.exitCode).toBe(0);
        const report = JSON.parse(j.stdout) as { version: number; funcs: string[]; unsupported: string[] };
        expect(report).toMatchObject({ version: 20001, unsupported: [] });
        expect(report.funcs).toHaveLength(Number(m![3]));
        expect(report.funcs).toEqual(expect.arrayContaining(['open(pii)i', 'read(ipi)i', 'write(ipi)i']));
      });

      it('--debug runs the capability check first, then the program', async () => {
        const r = await interact(['--debug'], 'print(6*7)');
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toBe('42');
        expect(r.stderr).toMatch(/capability check passed: \d+ calls declared, all implemented/);
      });

      it('--log FILE, then trace FILE lists the calls and sums them up', async () => {
        const logs = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-log-')); // not in work: other tests list it
        const log = path.join(logs, 'run.log');
        const r = await interact(['--log', log], "print(6*7)\nopen('/etc/passwd')");
        expect(r.exitCode).toBe(1);
        const t = await cli(['trace', log]);
        fs.rmSync(logs, { recursive: true, force: true });
        expect(t.exitCode).toBe(0);
        expect(t.stdout).toContain(`# guest sandboxed-pypy: ${p.exe} -S -c`);
        expect(t.stdout).toMatch(
          /open\("\/etc\/passwd", \d+, \d+\)( \[answered by the supervisor\])? = -1 EACCES \(denied: \/etc is outside the sandbox/,
        );
        expect(t.stdout).toMatch(/write\(1, .*\) = 3/);
        expect(t.stdout).toContain('Summary by signature:');
        expect(t.stdout).toMatch(/open\(pii\)i/);
      });

      it('--timeout ends an endless loop: exit 124, no process left', async () => {
        const marker = `loop-${randomBytes(6).toString('hex')}`;
        const r = await interact(['--timeout', '1'], `while True: pass  # ${marker}`, 30_000);
        expect(r.exitCode).toBe(124);
        expect(r.stderr).toContain('[pypy-box] timeout: guest stopped after 1000 ms');
        expect(processesWith(marker)).toEqual([]);
      });

      it('--heapsize: an allocation beyond it ends the guest, exit 125', async () => {
        const r = await interact(['--heapsize', '64m'], 'x = [bytearray(1 << 20) for i in range(400)]\nprint(len(x))');
        expect(r.exitCode).toBe(125);
        expect(r.stdout).toBe('');
        expect(r.stderr).toContain(`[pypy-box] limit: guest stopped by the heap limit (${64 << 20})`);
      });
    });
  }
});

/** The one line pypy-box printed (a usage error's "(see ... --help)" aside): no stack, nothing undefined. */
function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() && !/^\(see pypy-box .*--help\)$/.test(l));
  expect(lines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/undefined|\n\s+at |Error:/);
  return lines[0]!;
}

const PYTHON3 = ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => fs.existsSync(p));

describe.concurrent('a binary that is no sandboxed PyPy, or no file at all', () => {
  it('interact --debug of /bin/true exits 3, not a sandboxed PyPy, as check does', async () => {
    for (const walls of [[], ['--no-walls']]) {
      const r = await cli(['interact', '--debug', ...walls, '/bin/true']);
      expect(r.exitCode).toBe(3);
      expect(oneLine(r.stderr)).toMatch(
        /^pypy-box: \/bin\/true is not a PyPy translated with --sandbox: no capability dump \(.*printed no sandbox capability dump/,
      );
    }
    const c = await cli(['check', '/bin/true']);
    expect(c.exitCode).toBe(3);
    expect(oneLine(c.stderr)).toMatch(/^pypy-box: \/bin\/true is not a PyPy translated with --sandbox/);
  });

  it.skipIf(!PYTHON3)(
    'a stock python3 given as the sandboxed binary: interact --debug and check exit 3, in one line',
    async () => {
      const r = await cli(['interact', '--debug', PYTHON3!, '-c', 'print(1)']);
      expect(r.exitCode).toBe(3);
      expect(r.stdout).toBe('');
      expect(oneLine(r.stderr)).toMatch(
        new RegExp(
          `^pypy-box: ${PYTHON3} is not a PyPy translated with --sandbox: no capability dump \\(.*exited with`,
        ),
      );
      const c = await cli(['check', '--json', PYTHON3!]);
      expect(c.exitCode).toBe(3);
      expect(oneLine(c.stderr)).toMatch(/is not a PyPy translated with --sandbox/);
    },
  );

  it('check of a missing file or of a directory: 127, cannot start', async () => {
    const missing = await cli(['check', '/nonexistent/pypy-c']);
    expect(missing.exitCode).toBe(127);
    expect(oneLine(missing.stderr)).toBe('pypy-box: cannot start /nonexistent/pypy-c: no such file');
    const dir = await cli(['check', os.tmpdir()]);
    expect(dir.exitCode).toBe(127);
    expect(oneLine(dir.stderr)).toBe(`pypy-box: cannot start ${os.tmpdir()}: not an executable file`);
  });

  it('trace of a binary or of a missing file: 2, not a trace', async () => {
    const bin = await cli(['trace', '/bin/true']);
    expect(bin.exitCode).toBe(2);
    expect(oneLine(bin.stderr)).toMatch(/^pypy-box: cannot read \/bin\/true: not a pypy-box trace/);
    const missing = await cli(['trace', '/nonexistent/run.log']);
    expect(missing.exitCode).toBe(2);
    expect(oneLine(missing.stderr)).toBe('pypy-box: cannot read /nonexistent/run.log: no such file');
  });

  it('a missing or wrong --lib-path, --tmp, --allow-read or --log: 2, the flag named', async () => {
    const cases: [string[], RegExp][] = [
      [['--lib-path', '/nonexistent'], /^pypy-box: --lib-path: \/nonexistent has no lib-python\/ directory/],
      [['--lib-path', '/bin/true'], /^pypy-box: --lib-path: \/bin\/true has no lib-python\/ directory/],
      [['--tmp', '/nonexistent'], /^pypy-box: --tmp: \/nonexistent is not a directory$/],
      [['--tmp', '/bin/true'], /^pypy-box: --tmp: \/bin\/true is not a directory$/],
      [['--allow-read', '/nonexistent'], /^pypy-box: --allow-read: \/nonexistent: no such file or directory$/],
      [['--log', '/nonexistent/run.log'], /^pypy-box: --log: cannot write \/nonexistent\/run.log: no such directory$/],
      [['--log', os.tmpdir()], new RegExp(`^pypy-box: --log: cannot write ${os.tmpdir()}: a directory$`)],
    ];
    // Each with a sandboxed binary, and --log (which a stock run meets after its supervisor has started) with a stock one too.
    const runs = cases.flatMap(([opts, message]) =>
      [['/bin/true'], ...(opts[0] === '--log' ? [['-c', 'pass']] : [])].map((guest) => ({
        args: [...opts, ...guest],
        message,
      })),
    );
    const results = await Promise.all(runs.map((c) => cli(['interact', ...c.args])));
    runs.forEach((c, i) => {
      expect(results[i]!.exitCode, c.args.join(' ')).toBe(2);
      expect(oneLine(results[i]!.stderr)).toMatch(c.message);
    });
  });

  it('--python given a program that is no Python, or no file: 127, said in one line', async () => {
    const cases: [string, RegExp][] = [
      [
        '/bin/true',
        /^\[pypy-box\] cannot prepare the stock interpreter: \/(usr\/)?bin\/true is not a Python interpreter \(it printed no description of itself\)$/,
      ],
      [
        '/bin/echo',
        /^\[pypy-box\] cannot prepare the stock interpreter: \/(usr\/)?bin\/echo is not a Python interpreter \(it printed no description of itself\)$/,
      ],
      [
        '/bin/false',
        /^\[pypy-box\] cannot prepare the stock interpreter: \/(usr\/)?bin\/false is not a Python interpreter \(it exited with 1 when asked to describe itself\)$/,
      ],
      [
        '/usr/bin/env',
        /^\[pypy-box\] cannot prepare the stock interpreter: \/usr\/bin\/env is not a Python interpreter \(it exited with \d+ when asked to describe itself: .*\)$/,
      ],
      [
        '/nonexistent/python',
        /^\[pypy-box\] cannot prepare the stock interpreter: interpreter \/nonexistent\/python not found \(or not an ELF binary\)$/,
      ],
    ];
    const results = await Promise.all(cases.map(([python]) => cli(['interact', '--python', python, '-c', 'print(1)'])));
    cases.forEach(([python, message], i) => {
      expect(results[i]!.exitCode, python).toBe(127);
      expect(results[i]!.stdout).toBe('');
      expect(oneLine(results[i]!.stderr)).toMatch(message);
    });
  });
});
