import { execa } from 'execa';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Controller, OptionError, Policy, type ControllerOptions } from '../src/index.js';
import { hostPlatform } from '../src/platform/index.js';
import { delegate } from '../src/supervisor/delegation.js';
import { VirtualFS } from '../src/vfs/vfs.js';
import { CLI, FIXTURES, ROOT } from './helpers.js';

// A host directory granted for reading that lies under the host's /tmp, together with --tmp
// (tmpDir): the guest sees it at its host path inside its own writable /tmp, read-only, whatever
// the --tmp directory holds at the names on the way to it.

const PYPY36 = path.join(ROOT, 'build/pypy-sandbox/pypy3.6-sandbox');
const havePyPy = fs.existsSync(path.join(PYPY36, 'pypy3-c'));

let base: string;
let tree: string;
let work: string;
let way: string;

beforeAll(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-nested-'));
  tree = path.join(base, 'granted/tree');
  fs.mkdirSync(path.join(tree, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(tree, 'sub/a.txt'), 'granted bytes\n');
  work = path.join(base, 'work');
  fs.mkdirSync(work);
  fs.writeFileSync(path.join(work, 'input.txt'), 'from --tmp\n');
  // The --tmp directory holds a file at the first name on the way to the grant: the grant wins.
  way = path.basename(base);
  fs.writeFileSync(path.join(work, way), 'a file in the way\n');
});
afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

/** What the guest does (Python 3): each line one step, errors as their errno name. */
function guestCode(): string {
  return [
    'import errno, os',
    'def put(p, data):',
    "    with open(p, 'w') as f: return f.write(data)",
    'def t(name, f):',
    '    try: print(name, f())',
    '    except OSError as e: print(name, errno.errorcode[e.errno])',
    `T = ${JSON.stringify(tree)}`,
    `W = ${JSON.stringify(base)}`,
    "t('read', lambda: open(T + '/sub/a.txt').read().strip())",
    "t('list', lambda: sorted(os.listdir(T)))",
    `t('tmp', lambda: sorted(n for n in os.listdir('/tmp') if n in (${JSON.stringify(way)}, 'input.txt')))`,
    "t('way', lambda: sorted(os.listdir(W)))",
    "t('isdir', lambda: os.path.isdir(W))",
    "t('write', lambda: open(T + '/new.txt', 'w'))",
    "t('unlink', lambda: os.unlink(T + '/sub/a.txt'))",
    "t('waywrite', lambda: open(W + '/new.txt', 'w'))",
    "t('waymkdir', lambda: os.mkdir(W + '/d'))",
    "t('wayrmdir', lambda: os.rmdir(W + '/granted'))",
    "t('beside', lambda: put('/tmp/beside.txt', 'kept in memory'))",
    "t('readback', lambda: open('/tmp/beside.txt').read())",
    "t('rename', lambda: os.rename('/tmp/beside.txt', T + '/beside.txt'))",
    "t('input', lambda: open('/tmp/input.txt').read().strip())",
  ].join('\n');
}

const EXPECTED = [
  'read granted bytes',
  "list ['sub']",
  `tmp ['input.txt', '${'WAY'}']`,
  "way ['granted']",
  'isdir True',
  'write EROFS',
  'unlink EROFS',
  'waywrite EROFS',
  'waymkdir EROFS',
  'wayrmdir EROFS',
  'beside 14',
  'readback kept in memory',
  'rename EROFS',
  'input from --tmp',
];
const expected = () => EXPECTED.map((l) => l.replace('WAY', way)).join('\n') + '\n';

/** The host files were left as they were: the guest's write stayed in memory. */
function hostUnchanged(): void {
  expect(fs.readdirSync(tree).sort()).toEqual(['sub']);
  expect(fs.readdirSync(path.join(tree, 'sub'))).toEqual(['a.txt']);
  expect(fs.readdirSync(work).sort()).toEqual(['input.txt', way].sort());
}

function cli(args: string[]) {
  return execa(process.execPath, [CLI, ...args], { reject: false, env: { NO_COLOR: '1' }, timeout: 60_000 });
}

describe('a granted host tree under /tmp with tmpDir', () => {
  const options = (o: Partial<ControllerOptions>): ControllerOptions => ({
    policy: new Policy().allowRead(tree),
    tmpDir: work,
    timeout: 60_000,
    ...o,
  });

  it('a stock pypy3 through the library reads and lists it, cannot write it, and writes beside it in memory', async () => {
    for (const localAnswers of [true, false]) {
      const r = await new Controller(options({ python: 'pypy3', args: ['-c', guestCode()], localAnswers })).run();
      expect(r.stderr.toString()).toBe('');
      expect(r.stdout.toString()).toBe(expected());
      expect(r.vfs.snapshot('/tmp')['beside.txt']?.toString()).toBe('kept in memory');
    }
    hostUnchanged();
  });

  it.skipIf(!havePyPy)('a sandboxed PyPy through the library sees the same', async () => {
    const r = await new Controller(
      options({ executable: path.join(PYPY36, 'pypy3-c'), libPath: PYPY36, args: ['-S', '-c', guestCode()] }),
    ).run();
    expect(r.stdout.toString()).toBe(expected());
    hostUnchanged();
  });

  it('a stock pypy3 through the command line', async () => {
    const r = await cli(['interact', '--tmp', work, '--allow-read', tree, '-c', guestCode()]);
    expect(r.stderr).toBe('');
    expect(r.stdout + '\n').toBe(expected());
    expect(r.exitCode).toBe(0);
    hostUnchanged();
  });

  it.skipIf(!havePyPy)('a sandboxed PyPy through the command line', async () => {
    const exe = path.join(PYPY36, 'pypy3-c');
    const r = await cli([
      'interact',
      '--lib-path',
      PYPY36,
      '--tmp',
      work,
      '--allow-read',
      tree,
      exe,
      '-S',
      '-c',
      guestCode(),
    ]);
    expect(r.stdout + '\n').toBe(expected());
    expect(r.exitCode).toBe(0);
    hostUnchanged();
  });

  it('a grant that would replace /tmp, /dev or the root is refused at setup', async () => {
    for (const at of ['/tmp', '/dev', '/']) {
      const policy = new Policy().allowRead(at);
      const err = await (async () =>
        new Controller(options({ python: 'pypy3', args: ['-c', 'pass'], policy })).run())().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(OptionError);
      expect((err as Error).message).toMatch(/would replace/);
    }
    const r = await cli(['interact', '--allow-read', '/tmp', '-c', 'pass']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/read grant for \/tmp: shown at \/tmp, it would replace the sandbox's own \/tmp/);
  });

  it('the supervisor is handed grants outside the in-memory /tmp only, and no name of the /tmp tree', () => {
    const project = path.join(FIXTURES, 'project');
    const vfs = new VirtualFS();
    vfs.mountTmp('/tmp', { lowerDir: work });
    vfs.mountHost(tree, tree);
    vfs.mountHost(project, project);
    const policy = new Policy().allowRead(tree).allowRead(project).allowRead(work);
    const identity = { uid: 1000, gid: 1000, euid: 1000, egid: 1000, pid: 1, ppid: 0, hostname: 'sandbox' };
    const d = delegate(vfs, policy, new Set(), identity, hostPlatform(), 4096, false, '/tmp')!;
    const values = (flag: string) => d.args.flatMap((a, k) => (d.args[k - 1] === flag ? [a] : []));
    // The grant under /tmp is answered by the controller (the walk through its way directories).
    expect(values('--grant').map((g) => g.replace(/^\d+:/, ''))).toEqual([project]);
    expect(d.grants.map((g) => g.hostPath)).toEqual([project]);
    // Nothing of /tmp is answered from the controller's own tree either; /tmp itself is a name left to it.
    for (const flag of ['--dir', '--link', '--file', '--stat'])
      for (const v of values(flag)) expect(v.replace(/^[0-9a-f]*:/, '')).not.toMatch(/^\/tmp(\/|$)/);
    expect(values('--name')).toContain('/tmp');
  });
});
