import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive, childrenOf, CLI, GUEST, ROOT, waitFor } from './helpers.js';

function cli(args: string[]) {
  return execa(process.execPath, [CLI, ...args], { reject: false, env: { NO_COLOR: '1' }, timeout: 30_000 });
}

describe('pypy-box CLI and the host', () => {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`${sig} ends the guest and exits ${code}`, async () => {
      const run = execa(
        process.execPath,
        [CLI, 'interact', '-c', 'import time\nprint("up", flush=True)\ntime.sleep(30)'],
        { reject: false, env: { NO_COLOR: '1' }, timeout: 30_000, buffer: { stdout: false } },
      );
      await new Promise<void>((resolve) =>
        run.stdout.on('data', (b: Buffer) => b.toString().includes('up') && resolve()),
      );
      const guests = childrenOf(run.pid!);
      expect(guests.length).toBeGreaterThan(0);
      run.kill(sig);
      const r = await run;
      expect(r.exitCode).toBe(code);
      expect(r.stderr).toContain(`guest stopped (${sig})`);
      await waitFor(() => guests.every((p) => !alive(p)), 5000);
    });
  }

  it('a reader that goes away (| head -2) ends the run quietly, exit 141', async () => {
    const r = await execa('sh', ['-c', `"${process.execPath}" "${CLI}" interact -c 'while 1: print(1)' | head -2`], {
      reject: false,
      timeout: 30_000,
    });
    expect(r.stdout).toBe('1\n1');
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const b = await execa(
      'bash',
      [
        '-c',
        `"${process.execPath}" "${CLI}" interact -c 'while 1: print(1)' | head -2 >/dev/null; echo "\${PIPESTATUS[0]}"`,
      ],
      { reject: false, timeout: 30_000 },
    );
    expect(b.stderr).toBe('');
    expect(b.stdout.trim()).toBe('141');
  });

  it('a listing whose reader goes away (trace | head -1) ends quietly, exit 141', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-trace-pipe-'));
    try {
      const log = path.join(dir, 'run.trace');
      // Some thousands of calls: a listing far larger than a pipe holds.
      const made = await execa(
        process.execPath,
        [CLI, 'interact', '--log', log, '-c', 'import os\nfor _ in range(3000): os.stat("/")'],
        {
          reject: false,
          timeout: 60_000,
        },
      );
      expect(made.exitCode).toBe(0);
      const r = await execa(
        'bash',
        ['-c', `"${process.execPath}" "${CLI}" trace "${log}" | head -1 >/dev/null; echo "\${PIPESTATUS[0]}"`],
        {
          reject: false,
          timeout: 30_000,
        },
      );
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('141');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('numeric flags are checked as flags', async () => {
    const r = await cli(['interact', '--max-open-files', 'abc', '-c', '1']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('--max-open-files expects a whole number (0 or more), got "abc"');
    expect(r.stderr).not.toContain('limits.');
    const low = await cli(['interact', '--max-open-files', '2', '-c', '1']);
    expect(low.exitCode).toBe(2);
    expect(low.stderr).toContain('--max-open-files: must be at least 3');
  });

  it('--clock takes real or a date, else a usage error', async () => {
    const r = await cli(['interact', '--clock', 'notadate', '-c', '1']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`--clock expects 'real' or a date/time such as 2020-01-01T00:00:00Z, got "notadate"`);
    expect((await cli(['interact', '--clock', '2020-01-01T00:00:00Z', GUEST, 'call getpid()i'])).exitCode).toBe(0);
  });

  it('trace of a file that is not a trace, or missing: a clear usage error', async () => {
    const other = path.join(os.tmpdir(), `not-a-trace-${process.pid}`);
    fs.writeFileSync(other, 'myhost\n');
    const r = await cli(['trace', other]);
    fs.unlinkSync(other);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${other} is not a pypy-box trace`);
    expect(r.stderr).not.toContain('undefined');
    const m = await cli(['trace', '/nonexistent']);
    expect(m.exitCode).toBe(2);
    expect(m.stderr).toContain('cannot read /nonexistent: no such file');
  });

  it('check of a missing file (127) and of a binary that is no sandboxed PyPy (3)', async () => {
    const m = await cli(['check', '/nonexistent']);
    expect(m.exitCode).toBe(127);
    expect(m.stderr).toBe('pypy-box: cannot start /nonexistent: no such file');
    const t = await cli(['check', '/bin/true']);
    expect(t.exitCode).toBe(3);
    expect(t.stderr).toMatch(/^pypy-box: \/bin\/true is not a PyPy translated with --sandbox: no capability dump/);
    expect(t.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('check --help and trace --help keep words whole', async () => {
    for (const cmd of ['check', 'trace']) {
      const r = await cli([cmd, '--help']);
      expect(r.exitCode).toBe(0);
      for (const word of cmd === 'check' ? ['RPY_SANDBOX_DUMP', 'implements.'] : ['summarises', 'signature.'])
        expect(r.stdout).toContain(word);
    }
  });

  it('--version prints the version from package.json', async () => {
    const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await cli(['--version']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe(`pypy-box ${version}`);
  });
});
