/** The examples/ files run as a user runs them, from the checkout (`import 'pypy-box'` is the package itself). */
import { execa } from 'execa';
import fs from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { ROOT } from './helpers.js';
import { NO_REDIS, OwnRedis } from './redis.js';

const node = (file: string) =>
  execa(process.execPath, [path.join(ROOT, 'examples', file)], {
    cwd: ROOT,
    reject: false,
    env: { NO_COLOR: '1' },
    timeout: 60_000,
  });

it('examples/policy-vfs.mjs: a tree and policy built by hand, with the interpreter added', async () => {
  const r = await node('policy-vfs.mjs');
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toBe("hello ['private', 'sales.csv']\ntotal 42\nprivate: Permission denied\n[ 'private data' ]");
});

it('examples/input-output.mjs: input files in /tmp, the output exported, the symlink left out', async () => {
  const r = await node('input-output.mjs');
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toMatch(
    /^total 42\n\[ 'total.txt' \] 42\n\[\n {2}\{\n {4}path: '\/tmp\/out\/passwd',\n {4}reason: 'symlink to "\/etc\/passwd", not followed'\n {2}\}\n\]$/,
  );
});

it('examples/cli-recipes.sh: a script of the cwd with a sibling module, an input file, an export', async () => {
  const before = fs.readdirSync(path.join(ROOT, 'examples/report')).sort();
  const r = await execa('sh', [path.join(ROOT, 'examples/cli-recipes.sh')], {
    reject: false,
    env: { NO_COLOR: '1' },
    timeout: 120_000,
  });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toBe(
    'no /tmp/sales.csv: sample data\n2 months, total 30, best feb\n3 months, total 63, best feb\n3 months, total 63, best feb',
  );
  expect(r.stderr).toMatch(/^\[pypy-box\] exported 1 file\(s\), 29 bytes, from \/tmp\/out to \S+\/result$/);
  expect(fs.readdirSync(path.join(ROOT, 'examples/report')).sort()).toEqual(before);
});

it('examples/grant.sh: a directory granted at its own path, a policy file with a mount, globs and a deny rule', async () => {
  const r = await execa('sh', [path.join(ROOT, 'examples/grant.sh')], {
    reject: false,
    env: { NO_COLOR: '1' },
    timeout: 120_000,
  });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  // /usr/share/common-licenses (Debian's base-files): GPL-1 excluded, only names matching GPL*.
  expect(r.stdout).toBe(
    "['report.py', 'sales.csv', 'stats.py']\n['GPL', 'GPL-2', 'GPL-3'] C.UTF-8\nGPL-2: Permission denied",
  );
});

it('examples/limits.sh: a timeout and the output limit end the run (124, 125); the descriptor cap refuses opens', async () => {
  const r = await execa('sh', [path.join(ROOT, 'examples/limits.sh')], {
    reject: false,
    env: { NO_COLOR: '1' },
    timeout: 120_000,
  });
  expect(r.exitCode, r.stderr).toBe(0);
  expect(r.stdout).toBe('timeout: exit 124\noutput: exit 125\n5 open, then Too many open files\nopen files: exit 0');
  expect(r.stderr).toBe(
    '[pypy-box] timeout: guest stopped after 2000 ms\n[pypy-box] limit: guest stopped by the output limit (1048576)',
  );
});

it('examples/library.mjs: a run with a limit and a file left in the in-memory /tmp', async () => {
  const r = await node('library.mjs');
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toBe("exited 0 done\n{ 'answer.json': <Buffer 34 32> }");
});

it('examples/session.mjs: a session keeps state, survives an error and a timeout, moves files, calls a function', async () => {
  const r = await node('session.mjs');
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toBe(
    "n = 3 84\nIndexError list index out of range\nKeyboardInterrupt 3\n[ 'ann', '91' ]\nmean 84.0\nclosed",
  );
});

it('examples/pool.mjs: a grader with a pool: a pass, a fail, a timeout, a denial, a keyed state', async () => {
  const r = await node('pool.mjs');
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  expect(r.stdout).toBe(
    "ann True\nbob False\ncid too slow\ndee PermissionError: [Errno 13] Permission denied: '/home'\nann again 42\n{ done: 4, failed: 2 }",
  );
});

it.skipIf(NO_REDIS)(
  'examples/fleet.sh: two workers (examples/worker.mjs) on one Redis, jobs from examples/submit.mjs, a crash in the failed set',
  async () => {
    const own = process.env.PYPY_BOX_TEST_REDIS ? undefined : await OwnRedis.start();
    try {
      const env = { NO_COLOR: '1', REDIS_URL: process.env.PYPY_BOX_TEST_REDIS ?? own!.url };
      const r = await execa('sh', [path.join(ROOT, 'examples/fleet.sh')], { reject: false, env, timeout: 120_000 });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(
        'exited 0 499500\nexited 0 1999000\nexited 0 4498500\nexited 0 7998000\nthe guest died of SIGSEGV (Segmentation fault) before it answered\nworkers stopped',
      );
    } finally {
      await own?.stop();
    }
  },
);
