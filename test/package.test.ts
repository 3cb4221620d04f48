/**
 * The package as a user gets it: packed, installed from the tarball into a new project (which
 * builds the native supervisor from the shipped C sources), then the README's library example
 * (examples/library.mjs) and the command line run from that project.
 */
import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serversUnder } from '../src/server/running.js';
import { ROOT } from './helpers.js';

/** The environment without what `npm test` sets for its own project (npm_config_*, npm_lifecycle_*...). */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return { ...env, NO_COLOR: '1', ...extra };
}

const README_EXAMPLE = /<!-- example: examples\/library.mjs -->\n```js\n([\s\S]*?)```/;

it('examples/library.mjs is the README library example', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  expect(fs.readFileSync(path.join(ROOT, 'examples/library.mjs'), 'utf8')).toBe(README_EXAMPLE.exec(readme)?.[1]);
});

describe('installed from its tarball', { timeout: 240_000 }, () => {
  let work: string;
  let project: string;
  let pkg: string;
  let tarball: string;

  // Command servers the installed command starts keep their sockets here (ended in afterAll).
  const run = (cmd: string, args: string[], extra: Record<string, string> = {}) =>
    execa(cmd, args, {
      cwd: project,
      env: userEnv({ XDG_RUNTIME_DIR: path.join(work, 'runtime'), ...extra }),
      extendEnv: false,
      reject: false,
      all: true,
    });

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-package-'));
    project = path.join(work, 'project');
    pkg = path.join(project, 'node_modules/pypy-box');
    fs.mkdirSync(project);
    fs.mkdirSync(path.join(work, 'runtime'), { mode: 0o700 });
    // dist is already built by the global setup; the tarball holds what `files` names.
    const pack = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: ROOT,
      env: userEnv(),
      extendEnv: false,
    });
    tarball = path.join(work, JSON.parse(pack.stdout)[0].filename);
    fs.writeFileSync(
      path.join(project, 'package.json'),
      JSON.stringify({ name: 'uses-pypy-box', version: '1.0.0', private: true, type: 'module' }, null, 2),
    );
    const install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball]);
    expect(install.exitCode, install.all).toBe(0);
  }, 240_000);

  afterAll(() => {
    if (!work) return;
    for (const pid of serversUnder(work)) process.kill(pid, 'SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('ships what it needs and nothing of the checkout', async () => {
    const list = await execa('tar', ['-tzf', tarball]);
    const files = list.stdout.split('\n').map((f) => f.replace(/^package\//, ''));
    for (const f of [
      'LICENSE',
      'CHANGELOG.md',
      'README.md',
      'docs/protocol.md',
      'docs/performance.md',
      'examples/grant.sh',
      'examples/policy.json',
      'examples/library.mjs',
      'scripts/build-native.mjs',
      'src/supervisor/native/main.c',
      'src/supervisor/native/wall.c',
      'dist/src/index.js',
      'dist/src/index.d.ts',
      'dist/controller/pypy-box.cjs',
      'dist/controller/pypy-box',
      'src/server/native/client.c',
    ]) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => /^(dist\/bench|build|test|bench|node_modules)\/|\.map$|^src\/.*\.ts$/.test(f))).toEqual(
      [],
    );
  });

  it('builds the native supervisor and its wall library at install', () => {
    expect(fs.existsSync(path.join(pkg, 'build/native/pypy-box-supervisor'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'build/native/libpypybox-wall.so'))).toBe(true);
    expect(fs.existsSync(path.join(pkg, 'build/native/pypy-box-client'))).toBe(true);
  });

  it('runs the README library example', async () => {
    fs.copyFileSync(path.join(ROOT, 'examples/library.mjs'), path.join(project, 'library.mjs'));
    const r = await run(process.execPath, ['library.mjs']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('exited 0 done');
    expect(r.stdout).toContain("'answer.json': <Buffer 34 32>");
  });

  it('runs the example of a tree and policy built by hand', async () => {
    fs.copyFileSync(path.join(ROOT, 'examples/policy-vfs.mjs'), path.join(project, 'policy-vfs.mjs'));
    const r = await run(process.execPath, ['policy-vfs.mjs']);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toBe("hello ['private', 'sales.csv']\ntotal 42\nprivate: Permission denied\n[ 'private data' ]");
  });

  it('runs the command line (npx pypy-box)', async () => {
    const r = await run('npx', [
      '--no-install',
      'pypy-box',
      'interact',
      '-c',
      'import os; print(6*7, os.listdir("/"))',
    ]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/^42 \[.*'tmp'.*\]$/);
    const help = await run('npx', ['--no-install', 'pypy-box', '--help']);
    expect(help.exitCode, help.all).toBe(0);
    expect(help.stdout).toContain('interact');
    // The first run started a command server; the next ones are its workers'.
    const served = await run('npx', ['--no-install', 'pypy-box', 'interact', '-c', 'print(6*7)'], {
      PYPY_BOX_SERVER: 'wait',
    });
    expect(served.exitCode, served.all).toBe(0);
    expect(served.stdout).toBe('42');
    expect(serversUnder(work)).toHaveLength(1);
  });

  it('without a C compiler: the install goes on with a warning, or fails under PYPY_BOX_REQUIRE_NATIVE=1; npx pypy-box-build-native builds it', async () => {
    const noCc = { CC: path.join(work, 'no-such-cc') };
    const lenient = await run('npm', ['rebuild', '--foreground-scripts', 'pypy-box'], noCc);
    expect(lenient.exitCode, lenient.all).toBe(0);
    expect(lenient.all).toContain('could not compile the native supervisor');
    expect(lenient.all).toContain('npx pypy-box-build-native');
    const strict = await run('npm', ['rebuild', '--foreground-scripts', 'pypy-box'], {
      ...noCc,
      PYPY_BOX_REQUIRE_NATIVE: '1',
    });
    expect(strict.exitCode).not.toBe(0);
    // By hand, a failed build is an error.
    const byHand = await run('npx', ['--no-install', 'pypy-box-build-native'], noCc);
    expect(byHand.exitCode).toBe(1);

    fs.rmSync(path.join(pkg, 'build'), { recursive: true, force: true });
    const missing = await run('npx', ['--no-install', 'pypy-box', 'interact', '-c', 'print(6*7)']);
    expect(missing.exitCode).toBe(127);
    expect(missing.stderr).toContain('npx pypy-box-build-native');
    const build = await run('npx', ['--no-install', 'pypy-box-build-native']);
    expect(build.exitCode, build.all).toBe(0);
    expect(build.stdout).toContain(
      'pypy-box: built build/native/pypy-box-supervisor, build/native/libpypybox-wall.so and build/native/pypy-box-client',
    );
    const again = await run('npx', ['--no-install', 'pypy-box', 'interact', '-c', 'print(6*7)']);
    expect(again.exitCode, again.all).toBe(0);
    expect(again.stdout).toBe('42');
  });
});
