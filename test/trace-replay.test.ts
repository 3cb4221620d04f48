import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Controller, Errno, errnoName } from '../src/index.js';
import { GUEST, results, ROOT } from './helpers.js';

/**
 * Replays the calls real PyPy sandbox-2 binaries made (test/data/*-print42.txt, recorded with the
 * answers a working controller gave) through the C test guest, against a stdlib tree rebuilt from
 * the trace, and compares what pypy-box answers.
 */

interface Recorded {
  sig: string;
  path?: string;
  ints: string[];
  ok: boolean;
  value: string;
  errno?: string;
}

function parse(file: string): Recorded[] {
  const out: Recorded[] = [];
  for (const line of fs.readFileSync(path.join(ROOT, 'test/data', file), 'utf8').split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(.*?)\s*-> (\S+)(?: errno=(\w+))?\s*$/.exec(line);
    if (!m) throw new Error(`unparsed trace line: ${line}`);
    const [, sig, argText, value, errno] = m as unknown as [string, string, string, string, string | undefined];
    const pathMatch = /'([^']*)'/.exec(argText);
    const ints = argText
      .replace(/'[^']*'/, '')
      .split(/\s+/)
      .filter(Boolean);
    out.push({ sig, path: pathMatch?.[1], ints, value, ok: value !== '-1' && value !== 'NULL', errno });
  }
  return out;
}

const FILE = /\.(py|pyc|so|txt|pth|cfg)$/;

/** Rebuilds the stdlib the trace touched: directories, and files of the sizes the reads returned. */
function rebuildTree(calls: Recorded[], base: string): void {
  const files = new Map<string, number>();
  const dirs = new Set<string>();
  const fdPath = new Map<string, string>();
  const mine = (p: string | undefined) =>
    p !== undefined && (p.startsWith('/lib/lib') || (p.startsWith('/tmp/') && FILE.test(p)));
  for (const c of calls) {
    if (!c.path?.startsWith('/lib/lib')) continue;
    if (c.sig === 'opendir(p)p' && c.ok) dirs.add(c.path);
  }
  // A file's size is what one open of it read in all (the same file may be opened again).
  const readThisOpen = new Map<string, number>();
  for (const c of calls) {
    if (c.sig === 'open(pii)i' && c.ok && c.path) {
      fdPath.set(c.value, c.path);
      readThisOpen.set(c.value, 0);
      if (mine(c.path)) files.set(c.path, files.get(c.path) ?? 0);
    } else if (c.sig === 'read(ipi)i' && fdPath.has(c.ints[0]!)) {
      const fd = c.ints[0]!;
      const p = fdPath.get(fd)!;
      readThisOpen.set(fd, readThisOpen.get(fd)! + Number(c.value));
      if (files.has(p)) files.set(p, Math.max(files.get(p)!, readThisOpen.get(fd)!));
    } else if (c.sig === 'close(i)i') fdPath.delete(c.ints[0]!);
    else if (
      (c.sig === 'stat64(pp)i' || c.sig === 'lstat64(pp)i') &&
      c.ok &&
      c.path?.startsWith('/lib/lib') &&
      !files.has(c.path)
    ) {
      if (!FILE.test(c.path)) dirs.add(c.path);
    }
  }
  // /lib/X lives at base/X (the --lib-path tree), /tmp/X at base/tmp/X (the --tmp directory).
  const host = (p: string) =>
    p.startsWith('/tmp/') ? path.join(base, p.slice(1)) : path.join(base, p.slice('/lib/'.length));
  fs.mkdirSync(path.join(base, 'tmp'), { recursive: true });
  for (const d of dirs) fs.mkdirSync(host(d), { recursive: true });
  for (const [f, size] of files) {
    fs.mkdirSync(path.dirname(host(f)), { recursive: true });
    fs.writeFileSync(host(f), Buffer.alloc(size, 0x23));
  }
  for (const c of calls) {
    if (
      (c.sig === 'stat64(pp)i' || c.sig === 'lstat64(pp)i') &&
      c.ok &&
      c.path?.startsWith('/lib/lib') &&
      FILE.test(c.path) &&
      !files.has(c.path)
    ) {
      fs.mkdirSync(path.dirname(path.join(base, c.path.slice('/lib/'.length))), { recursive: true });
      fs.writeFileSync(path.join(base, c.path.slice('/lib/'.length)), '');
    }
  }
}

/** The guest script for the calls whose arguments the trace shows; others are left out. */
function script(calls: Recorded[]): { lines: string[]; replayed: Recorded[] } {
  const biggest = Math.max(256, ...calls.filter((c) => c.sig === 'read(ipi)i').map((c) => Number(c.ints[2])));
  const lines = ['buf st 256', `buf buf ${biggest}`, 'buf tv 16', 'buf uts 512'];
  const replayed: Recorded[] = [];
  const add = (c: Recorded, line: string) => {
    lines.push(line);
    replayed.push(c);
  };
  for (const c of calls) {
    const [a, b, d] = c.ints;
    switch (c.sig) {
      case 'open(pii)i':
        add(c, `call open(pii)i s:${c.path} ${a} ${b}`);
        // Made up here (the recorded controller had none): closed again, so descriptors number as recorded.
        if (c.path === '/proc/meminfo') lines.push('save meminfo', 'quiet', 'call close(i)i v:meminfo', 'loud');
        break;
      case 'stat64(pp)i':
        add(c, `call stat64(pp)i s:${c.path} b:st`);
        break;
      case 'lstat64(pp)i':
        add(c, `call lstat64(pp)i s:${c.path} b:st`);
        break;
      case 'access(pi)i':
        add(c, `call access(pi)i s:${c.path} ${c.ints.at(-1)}`);
        break;
      case 'opendir(p)p':
        add(c, `call opendir(p)p s:${c.path}`);
        lines.push('save dir');
        break;
      case 'closedir(p)i':
        add(c, 'call closedir(p)i v:dir');
        break;
      case 'read(ipi)i':
        add(c, `call read(ipi)i ${a} b:buf ${d}`);
        break;
      case 'lseek(iii)i':
        add(c, `call lseek(iii)i ${a} ${b} ${d}`);
        break;
      case 'fstat64(ip)i':
        add(c, `call fstat64(ip)i ${a} b:st`);
        break;
      case 'close(i)i':
        add(c, `call close(i)i ${a}`);
        break;
      case 'isatty(i)i':
        add(c, `call isatty(i)i ${a}`);
        break;
      case 'gettimeofday(pp)i':
        add(c, 'call gettimeofday(pp)i b:tv null');
        break;
      case 'time(p)i':
        add(c, 'call time(p)i null');
        break;
      case 'get_environ()p':
        add(c, 'call get_environ()p');
        break;
      case 'rpy_get_inheritable(i)i':
        add(c, `call rpy_get_inheritable(i)i ${a}`);
        break;
      case 'uname(p)i':
        add(c, 'call uname(p)i b:uts');
        break;
      case 'fcntl(iii)i':
        add(c, `call fcntl(iii)i ${a} ${b} ${d}`);
        break;
      case 'getcwd(pi)p':
        add(c, 'call getcwd(pi)p b:buf 256');
        break;
      default: // readdir (entry counts differ), getenv/mkdir/unlink/write (arguments not recorded)
    }
  }
  return { lines, replayed };
}

/** Where pypy-box answers differently from the recorded controller, on purpose. */
function expected(c: Recorded): { ok: boolean; errno?: string } {
  if (c.sig === 'uname(p)i' || c.sig === 'clock_gettime(ip)i' || c.sig === 'fcntl(iii)i') return { ok: true }; // answered, not ENOSYS
  if (c.path === '/dev/urandom') return { ok: true }; // a virtual device here
  if (c.path === '/proc/meminfo') return { ok: true }; // a made-up machine description here
  if (c.sig === 'open(pii)i' && Number(c.ints[0]) & 0o100) return { ok: false, errno: 'EROFS' }; // creating a .pyc in the read-only stdlib
  return { ok: c.ok, errno: c.ok ? undefined : c.errno };
}

describe.each([
  ['PyPy 3.6', 'py3-print42.txt', '3'],
  ['PyPy 2.7', 'py2-print42.txt', '2.7'],
  ['PyPy 3.6 listdir', 'py3-listdir.txt', '3'],
  ['PyPy 2.7 listdir', 'py2-listdir.txt', '2.7'],
  ['PyPy 3.6 imports', 'py3-imports.txt', '3'],
  ['PyPy 2.7 imports', 'py2-imports.txt', '2.7'],
])('replaying what %s asked (%s)', (_name, file) => {
  it('gets the same answers, but for the documented differences', async () => {
    const calls = parse(file);
    const lib = fs.mkdtempSync(path.join(os.tmpdir(), 'replay-'));
    rebuildTree(calls, lib);
    fs.mkdirSync(path.join(lib, 'lib-python'), { recursive: true });
    fs.mkdirSync(path.join(lib, 'lib_pypy'), { recursive: true });
    const { lines, replayed } = script(calls);
    const r = await new Controller({
      executable: GUEST,
      args: lines,
      libPath: lib,
      tmpDir: path.join(lib, 'tmp'),
      clock: { fixed: '2019-08-01T00:00:00Z' },
    }).run();
    fs.rmSync(lib, { recursive: true });
    expect(r.outcome).toBe('exited');
    const got = results(r.guestStderr.split('\n'));
    expect(got).toHaveLength(replayed.length);
    const mismatches: string[] = [];
    replayed.forEach((c, k) => {
      const want = expected(c);
      const g = got[k]!;
      const ok = c.sig.endsWith(')p') ? g.value !== 0n : g.value !== -1n;
      const numeric = ['read(ipi)i', 'lseek(iii)i', 'open(pii)i', 'time(p)i'].includes(c.sig) && want.ok && c.ok;
      const wrong =
        ok !== want.ok ||
        (!want.ok && want.errno !== undefined && errnoName(g.errno) !== want.errno) ||
        (numeric && c.sig !== 'time(p)i' && String(g.value) !== c.value);
      if (wrong)
        mismatches.push(
          `${c.sig} ${c.path ?? c.ints.join(' ')}: recorded ${c.value}${c.errno ? ' ' + c.errno : ''}, got ${g.value} ${g.errno ? errnoName(g.errno) : ''}`,
        );
    });
    expect(mismatches).toEqual([]);
    expect(replayed.length).toBeGreaterThan(100);
    void Errno;
  });
});
