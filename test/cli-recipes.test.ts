/**
 * Everyday runs of a new user from the command line: a script of the current directory, input
 * files in /tmp, files exported after the run, list flags, a venv's interpreter.
 */
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT } from './helpers.js';

function cli(args: string[], cwd?: string) {
  return execa(process.execPath, [CLI, 'interact', ...args], {
    reject: false,
    cwd,
    env: { NO_COLOR: '1' },
    timeout: 60_000,
  });
}

/** Every file under a host directory with its content (to show the run changed nothing there). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath, e.name);
    out[path.relative(dir, p)] = e.isFile()
      ? fs.readFileSync(p, 'utf8')
      : e.isSymbolicLink()
        ? `-> ${fs.readlinkSync(p)}`
        : 'dir';
  }
  return out;
}

let work: string;
beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-recipes-'));
});
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('a script named by its host path', () => {
  let project: string;
  beforeAll(() => {
    project = path.join(work, 'project');
    fs.mkdirSync(path.join(project, 'sub'), { recursive: true });
    fs.mkdirSync(path.join(work, 'elsewhere'));
    fs.writeFileSync(path.join(project, 'helper.py'), 'VALUE = 7\n');
    fs.writeFileSync(path.join(project, '.env'), 'TOKEN=secret\n');
    fs.writeFileSync(path.join(project, 'data.txt'), 'not a source\n');
    fs.writeFileSync(
      path.join(project, 'report.py'),
      [
        'import os, sys, helper',
        'print("report", helper.VALUE, __file__, sys.argv[1:], os.getcwd())',
        'print(sorted(os.listdir(os.path.dirname(__file__))))',
        'for p in ["/app/.env", "/app/data.txt"]:',
        '    try: open(p); print("READ", p)',
        '    except OSError as e: print(type(e).__name__, p)',
        'for p in ["/app/new.py", "/app/report.py"]:',
        '    try: open(p, "a").write("x"); print("WROTE", p)',
        '    except OSError as e: print(type(e).__name__, p)',
        'open("made.txt", "w").write("in memory")',
        '',
      ].join('\n'),
    );
    fs.writeFileSync(path.join(work, 'elsewhere', 'x.py'), 'print("x at", __file__)\n');
  });

  it('runs it from the cwd, read-only: sibling imports work, dotfiles and non-sources are not shown, nothing on the host changes', async () => {
    const before = tree(work);
    const r = await cli(['report.py', 'a', '--b'], project);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.split('\n')).toEqual([
      "report 7 /app/report.py ['a', '--b'] /tmp",
      "['helper.py', 'report.py', 'sub']",
      'FileNotFoundError /app/.env',
      'FileNotFoundError /app/data.txt',
      expect.stringMatching(/^(PermissionError|OSError) \/app\/new.py$/),
      expect.stringMatching(/^(PermissionError|OSError) \/app\/report.py$/),
    ]);
    expect(tree(work)).toEqual(before);
  });

  it('with ./name, ../name, an absolute path and interpreter options before it', async () => {
    for (const [args, cwd] of [
      [['./report.py'], project],
      [['../report.py'], path.join(project, 'sub')],
      [['-u', '-B', path.join(project, 'report.py')], '/'],
    ] as const) {
      const r = await cli([...args], cwd);
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^report 7 \/app\/report.py \[\] \/tmp\n/);
    }
    const up = await cli(['../../elsewhere/x.py'], path.join(project, 'sub'));
    expect(up.stdout).toBe('x at /app/x.py');
  });

  it('leaves -c, -m and names the guest sees already (--tmp) alone', async () => {
    const c = await cli(['-c', 'import sys; print(sys.argv)', 'report.py'], project);
    expect(c.stdout).toBe("['-c', 'report.py']");
    // With --tmp, a name inside that directory is the guest's /tmp/report.py, its cwd.
    const t = await cli(['--tmp', project, 'report.py'], project);
    expect(t.stdout).toMatch(/^report 7 \/tmp\/report.py \[\] \/tmp\n/);
  });
});

describe('input files and exports', () => {
  it('--tmp-file puts host files into the writable /tmp; the guest may change them, the host files stay as they were', async () => {
    const input = path.join(work, 'in.csv');
    fs.writeFileSync(input, 'a,b\n');
    const r = await cli([
      '--tmp-file',
      `${input},deep/copy.csv=${input}`,
      '-c',
      'import os; print(open("/tmp/in.csv").read().strip(), open("/tmp/deep/copy.csv").read().strip()); f = open("/tmp/in.csv", "a"); f.write("c\\n"); f.close(); print(repr(open("/tmp/in.csv").read())); os.remove("/tmp/deep/copy.csv")',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe("a,b a,b\n'a,b\\nc\\n'");
    expect(fs.readFileSync(input, 'utf8')).toBe('a,b\n');
    const bad = await cli(['--tmp-file', `../x=${input}`, '-c', 'pass']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--tmp-file \.\.\/x=.*: the name "\.\.\/x": expected a relative name/);
    const big = await cli(['--tmp-quota', '2', '--tmp-file', input, '-c', 'pass']);
    expect(big.exitCode).toBe(2);
    expect(big.stderr).toMatch(/more than the \/tmp quota/);
  });

  it('--export-tmp gives the files a guest wrote, not its symlinks (reported); existing files are refused unless --overwrite, symlinks always', async () => {
    const out = path.join(work, 'export', 'new'); // made with its parent
    const guest =
      'import os; os.makedirs("/tmp/out/deep"); open("/tmp/out/a.txt", "w").write("A"); open("/tmp/out/deep/b.txt", "w").write("B"); os.symlink("/etc/passwd", "/tmp/out/passwd"); os.symlink("../..", "/tmp/out/up")';
    const r = await cli(['--export-tmp', out, '-c', guest]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(tree(out)).toEqual({ out: 'dir', 'out/a.txt': 'A', 'out/deep': 'dir', 'out/deep/b.txt': 'B' });
    expect(fs.statSync(path.join(out, 'out/a.txt')).mode & 0o777).toBe(0o644);
    expect(r.stderr).toContain(`[pypy-box] exported 2 file(s), 2 bytes, from /tmp to ${out}`);
    expect(r.stderr).toContain('[pypy-box] export: left out /tmp/out/passwd: symlink to "/etc/passwd", not followed');
    expect(r.stderr).toContain('[pypy-box] export: left out /tmp/out/up: symlink to "../..", not followed');

    // Again into the same place: refused as a whole, nothing written, exit 1 for a guest that succeeded.
    const again = await cli(['--export', `/tmp/out:${path.join(out, 'out')}`, '-c', guest.replace('"A"', '"changed"')]);
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(
      /export of \/tmp\/out to .* failed: export to .* refused, nothing written: .*a\.txt exists \(overwrite not allowed\)/,
    );
    expect(fs.readFileSync(path.join(out, 'out/a.txt'), 'utf8')).toBe('A');
    const over = await cli([
      '--overwrite',
      '--export',
      `/tmp/out:${path.join(out, 'out')}`,
      '-c',
      guest.replace('"A"', '"changed"'),
    ]);
    expect(over.exitCode, over.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'out/a.txt'), 'utf8')).toBe('changed');

    // A symlink in the target is never written through, --overwrite or not.
    const victim = path.join(work, 'victim.txt');
    fs.writeFileSync(victim, 'keep');
    fs.rmSync(path.join(out, 'out/a.txt'));
    fs.symlinkSync(victim, path.join(out, 'out/a.txt'));
    const link = await cli(['--overwrite', '--export', `/tmp/out:${path.join(out, 'out')}`, '-c', guest]);
    expect(link.exitCode).toBe(1);
    expect(link.stderr).toMatch(/a\.txt is a symlink \(never written through\)/);
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep');
  });

  it('an export of a path that is no directory, or a bad --export, is told', async () => {
    const r = await cli(['--export', `/tmp/none:${path.join(work, 'none')}`, '-c', 'pass']);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/export of \/tmp\/none to .* failed: \/tmp\/none does not exist/);
    expect(fs.existsSync(path.join(work, 'none'))).toBe(false);
    const bad = await cli(['--export', 'relative:dir', '-c', 'pass']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--export expects VPATH:HOSTDIR/);
  });
});

it('--allow-read takes comma-separated lists and repeated flags', async () => {
  const dirs = ['a', 'b', 'c'].map((n) => path.join(work, `grant-${n}`));
  for (const d of dirs) {
    fs.mkdirSync(d);
    fs.writeFileSync(path.join(d, 'f.txt'), path.basename(d));
  }
  const code = `print(*(open(p + "/f.txt").read() for p in ${JSON.stringify(dirs)}))`;
  const r = await cli(['--allow-read', `${dirs[0]},${dirs[1]}`, '--allow-read', dirs[2]!, '-c', code]);
  expect(r.stderr).toBe('');
  expect(r.stdout).toBe('grant-a grant-b grant-c');
});

describe('an interpreter of a venv (python3 -m venv)', () => {
  const base = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  const made: string[] = [];
  afterAll(() => {
    for (const d of made) fs.rmSync(d, { recursive: true, force: true });
  });

  /** A venv with a package of its own in its site-packages. */
  async function venv(dir: string): Promise<string> {
    made.push(dir);
    await execa(base, ['-m', 'venv', '--without-pip', dir]);
    const site = (
      await execa(path.join(dir, 'bin/python'), ['-c', 'import site; print(site.getsitepackages()[0])'])
    ).stdout.trim();
    fs.mkdirSync(path.join(site, 'venvpkg'));
    fs.writeFileSync(path.join(site, 'venvpkg', '__init__.py'), 'ANSWER = 42\n');
    return path.join(dir, 'bin/python');
  }

  it.each([
    ["under the host /tmp (the virtual /tmp is the guest's)", () => path.join(work, 'venv')],
    ['elsewhere', () => path.join(ROOT, 'build', `venv-${process.pid}`)],
  ])('keeps its packages: %s', async (_where, dir) => {
    const python = await venv(dir());
    const r = await cli([
      '--python',
      python,
      '-c',
      'import sys, venvpkg; print(venvpkg.ANSWER, sys.prefix == sys.base_prefix, venvpkg.__file__.startswith(sys.prefix))',
    ]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('42 False True');
    expect(r.exitCode).toBe(0);
  });
});
