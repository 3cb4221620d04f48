import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, GUEST } from './helpers.js';

// The command line keeps V8's code cache of its bundle in the user's cache directory, one file
// per installed copy and command (src/cli/bundle.ts). Copies come and go (npx in each project,
// upgrades): the directory keeps the most recently used eight, never more.

describe('the code cache of the command line', () => {
  let cache: string;
  const dir = () => path.join(cache, 'pypy-box');
  const caches = () =>
    fs
      .readdirSync(dir())
      .filter((n) => /^cli-[0-9a-f]{8}\.v8$/.test(n))
      .sort();
  const check = () =>
    execa(process.execPath, [CLI, 'check', GUEST], { env: { XDG_CACHE_HOME: cache }, stdin: 'ignore' });
  const daysAgo = (d: number) => new Date(Date.now() - d * 24 * 3600 * 1000);

  beforeAll(() => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-code-cache-'));
  });
  afterAll(() => fs.rmSync(cache, { recursive: true, force: true }));

  it('keeps the eight most recently used files, and what is not its own', async () => {
    await check();
    const own = caches();
    expect(own).toHaveLength(1);
    // Twelve other copies' caches, used 1 to 12 days ago; a file of another name; another's symlink.
    for (let k = 1; k <= 12; k++) {
      const f = path.join(dir(), `cli-${String(k).padStart(8, '0')}.v8`);
      fs.writeFileSync(f, 'x', { mode: 0o600 });
      fs.utimesSync(f, daysAgo(k), daysAgo(k));
    }
    fs.writeFileSync(path.join(dir(), 'profile-keep.json'), '{}', { mode: 0o600 });
    fs.symlinkSync('/dev/null', path.join(dir(), 'cli-ffffffff.v8'));
    // Its own file replaced by one of another Node (a key that does not match): written again.
    fs.writeFileSync(path.join(dir(), own[0]!), 'stale key\n', { mode: 0o600 });
    expect((await check()).exitCode).toBe(0);
    const left = caches();
    expect(left).toContain(own[0]);
    // Its own, the seven most recent others, and the symlink it does not touch.
    expect(left.filter((n) => n !== own[0] && n !== 'cli-ffffffff.v8')).toEqual(
      [1, 2, 3, 4, 5, 6, 7].map((k) => `cli-${String(k).padStart(8, '0')}.v8`),
    );
    expect(fs.lstatSync(path.join(dir(), 'cli-ffffffff.v8')).isSymbolicLink()).toBe(true);
    expect(fs.existsSync(path.join(dir(), 'profile-keep.json'))).toBe(true);
  });

  it('marks a file in use as recently used (once a day), so that pruning keeps it', async () => {
    // Its own file: not one of the others made above (their names are all digits) nor the symlink.
    const others = new Set([...Array(12).keys()].map((k) => `cli-${String(k + 1).padStart(8, '0')}.v8`));
    const own = caches().filter((n) => !others.has(n) && n !== 'cli-ffffffff.v8');
    expect(own).toHaveLength(1);
    const file = path.join(dir(), own[0]!);
    fs.utimesSync(file, daysAgo(30), daysAgo(30));
    expect((await check()).exitCode).toBe(0);
    expect(Date.now() - fs.statSync(file).mtimeMs).toBeLessThan(3600 * 1000);
  });
});
