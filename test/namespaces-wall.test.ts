import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CLI, GUEST } from './helpers.js';

/*
 * The namespace wall alone, on a host that refuses new user namespaces: the CLI runs inside a user
 * namespace of its own whose limit of nested user namespaces is 0 (the limit is per namespace, so
 * nothing outside this test changes). The other walls that could stand in for it are off: the
 * run keeps its uid (a per-run uid is not mappable there) and uses no cgroup.
 */
function cliWithoutUserNamespaces(args: string[]) {
  const script = 'echo 0 > /proc/sys/user/max_user_namespaces && exec "$@"';
  return execa(
    'unshare',
    ['-Ur', 'sh', '-c', script, 'sh', process.execPath, CLI, 'interact', '--keep-uid', '--no-cgroup', ...args],
    {
      reject: false,
      env: { NO_COLOR: '1' },
      timeout: 60_000,
    },
  );
}

describe('the namespace wall', () => {
  it('asked for by name (--namespaces) and refused by the host: a stock run does not start, and says why', async () => {
    const r = await cliWithoutUserNamespaces(['--namespaces', '-c', 'print("ran")']);
    expect(r.exitCode).toBe(127);
    expect(r.stdout).not.toContain('ran');
    expect(r.stderr).toContain('the namespaces were asked for and cannot be made');
  });

  it('asked for by name and refused by the host: a sandboxed binary does not start either', async () => {
    const r = await cliWithoutUserNamespaces(['--namespaces', GUEST, 'call write(ipi)i 1 s:ran 3']);
    expect(r.exitCode).toBe(127);
    expect(r.stdout).not.toContain('ran');
    expect(r.stderr).toMatch(/isolation wall could not be set up|namespaces were asked for/);
  });

  it('by default, where the host refuses them: the run goes on, and its walls do not claim them', async () => {
    const r = await cliWithoutUserNamespaces(['--verbose', '-c', 'print("ran")']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('ran');
    const walls = /walls: (.*)$/m.exec(r.stderr)?.[1] ?? '';
    expect(walls).toContain('seccomp-user-notify');
    expect(walls).not.toMatch(/user-ns|pid-ns/);
  });
});
