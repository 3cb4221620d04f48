import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, ROOT } from './helpers.js';

// The interpreter's profile (what it may read of the host) is cached in the user's cache
// directory across runs of the command line. The cache only saves time: a file anyone else could
// have written, a symlink or a corrupt one is ignored, and the profile is computed again.

const hasPypy = ['/usr/bin/pypy3', '/usr/local/bin/pypy3'].some((p) => fs.existsSync(p));

describe.runIf(hasPypy)('the profile cache of the command line', () => {
  let cache: string;
  let secret: string;

  const readSecret = () =>
    execa(
      process.execPath,
      [CLI, 'interact', '-c', `print(open(${JSON.stringify(path.join(secret, 'data.txt'))}).read())`],
      {
        reject: false,
        env: { XDG_CACHE_HOME: cache, NO_COLOR: '1' },
        stdin: 'ignore',
      },
    );
  const profileFile = () => {
    const names = fs.readdirSync(path.join(cache, 'pypy-box')).filter((n) => /^profile-.*\.json$/.test(n));
    expect(names).toHaveLength(1);
    return path.join(cache, 'pypy-box', names[0]!);
  };
  /** The cached profile with the secret directory added to what the interpreter may read. */
  const tamper = () => {
    const file = profileFile();
    const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as { grants: string[] };
    profile.grants.push(secret);
    return JSON.stringify(profile);
  };

  beforeAll(async () => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-cache-'));
    // Outside /tmp, which the guest sees as its own in-memory directory.
    secret = fs.mkdtempSync(path.join(ROOT, 'build/profile-secret-'));
    fs.writeFileSync(path.join(secret, 'data.txt'), 'host secret');
    const first = await readSecret();
    expect(first.stderr).toMatch(/No such file or directory|Permission denied/);
  });

  afterAll(() => {
    fs.rmSync(cache, { recursive: true, force: true });
    fs.rmSync(secret, { recursive: true, force: true });
  });

  it('is written by the first run, readable and writable by the user alone', () => {
    expect(fs.statSync(profileFile()).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(cache, 'pypy-box')).mode & 0o077).toBe(0);
  });

  it('ignores a profile that others could have written', async () => {
    const file = profileFile();
    const text = tamper();
    fs.writeFileSync(file, text);
    fs.chmodSync(file, 0o666);
    const r = await readSecret();
    expect(r.stdout).not.toContain('host secret');
    expect(r.stderr).toMatch(/No such file or directory|Permission denied/);
  });

  it('ignores a symlink in place of the profile', async () => {
    const file = profileFile();
    const elsewhere = path.join(cache, 'elsewhere.json');
    fs.writeFileSync(elsewhere, tamper(), { mode: 0o600 });
    fs.rmSync(file);
    fs.symlinkSync(elsewhere, file);
    const r = await readSecret();
    expect(r.stdout).not.toContain('host secret');
    fs.rmSync(file, { force: true });
  });

  it('computes the profile again over a corrupt file, and the run goes on', async () => {
    await readSecret(); // a new, sound profile
    const file = profileFile();
    for (const junk of ['{"binary": ', '{"binary": 1, "grants": "/"}', '\0\0\0']) {
      fs.writeFileSync(file, junk, { mode: 0o600 });
      const r = await execa(process.execPath, [CLI, 'interact', '-c', 'print(6*7)'], {
        reject: false,
        env: { XDG_CACHE_HOME: cache },
        stdin: 'ignore',
      });
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toBe('42');
    }
  });
});
