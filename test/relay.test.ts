import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Controller, SandboxError, type CallRecord } from '../src/index.js';
import { ROOT, runGuest } from './helpers.js';

// A sandboxed PyPy behind its walls talks through the supervisor, which answers its clock calls
// and sends path arguments along with their calls (src/supervisor/relay.ts). What the guest sees,
// and what the trace and counts say, must be what the controller alone gives (localAnswers: false).

const BUILDS = path.join(ROOT, 'build/pypy-sandbox');
const PYPYS = [
  { name: 'PyPy 2.7', dir: path.join(BUILDS, 'pypy2.7-sandbox'), binary: 'pypy-c' },
  { name: 'PyPy 3.6', dir: path.join(BUILDS, 'pypy3.6-sandbox'), binary: 'pypy3-c' },
].map((p) => ({ ...p, exe: path.join(p.dir, p.binary) }));
const havePyPys = PYPYS.every((p) => fs.existsSync(p.exe));

/** Every inlined path call, the clock calls, and names that exist and do not. */
const SCRIPT = [
  'import os, time',
  't = time.time()',
  "f = open('/tmp/x', 'w'); f.write('hi'); f.close()",
  "os.mkdir('/tmp/d'); os.rename('/tmp/x', '/tmp/d/y'); os.chdir('/tmp/d')",
  "print('%s %s %s %s %s' % (sorted(os.listdir('.')), os.path.exists('/nope'), open('y').read(), os.access('y', os.R_OK), t > 1e9))",
  "os.unlink('/tmp/d/y'); os.chdir('/'); os.rmdir('/tmp/d')",
  "try:\n    os.readlink('/tmp')\nexcept OSError as e:\n    print(e.errno)",
].join('\n');
const CLOCKS = new Set(['time(p)i', 'gettimeofday(pp)i', 'clock_gettime(ip)i']);

async function run(exe: string, lib: string, localAnswers: boolean, extra = {}) {
  const records: CallRecord[] = [];
  const r = await new Controller({
    executable: exe,
    libPath: lib,
    args: ['-c', SCRIPT],
    localAnswers,
    onCall: (rec) => records.push(rec),
    ...extra,
  }).run();
  return { r, records };
}

/** A call as the guest met it; clock readings and the guest's heap addresses differ from run to run. */
function seen(rec: CallRecord): string {
  const result = CLOCKS.has(rec.sig) || rec.sig.endsWith('p') ? '' : String(rec.result);
  return [rec.sig, result, rec.errno ?? 0, rec.path ?? '', rec.path2 ?? '', rec.fromGuest].join(' ');
}

describe.skipIf(!havePyPys)('a sandboxed PyPy through the supervisor', () => {
  for (const p of PYPYS) {
    it(`${p.name}: the same answers, trace and counts as the controller alone`, async () => {
      const alone = await run(p.exe, p.dir, false);
      const relayed = await run(p.exe, p.dir, true);
      expect(alone.r.outcome).toBe('exited');
      expect(relayed.r.stdout.toString()).toBe(alone.r.stdout.toString());
      expect(relayed.r.stdout.toString()).toMatch(/^\['y'\] False hi True True\n22\n$/);
      expect(relayed.r.exitCode).toBe(0);
      // The clock is read a varying number of times; everything else is the same calls in order.
      const other = (rs: CallRecord[]) => rs.filter((x) => !CLOCKS.has(x.sig)).map(seen);
      expect(other(relayed.records)).toEqual(other(alone.records));
      const clocks = (rs: CallRecord[]) => rs.filter((x) => CLOCKS.has(x.sig)).length;
      expect(relayed.r.calls - clocks(relayed.records)).toBe(alone.r.calls - clocks(alone.records));
      // The clock calls were answered by the supervisor (and only they), the paths went along.
      const bySupervisor = relayed.records.filter((x) => x.note === 'answered by the supervisor');
      expect(bySupervisor.length).toBeGreaterThan(0);
      expect(bySupervisor.every((x) => CLOCKS.has(x.sig))).toBe(true);
      expect(relayed.records.map((x) => x.seq)).toEqual(relayed.records.map((_x, k) => k + 1));
    });

    it(`${p.name}: a fixed clock reads the same through the supervisor`, async () => {
      const fixed = Date.parse('2001-02-03T04:05:06Z') / 1000;
      const code = 'import time; print(int(time.time()))';
      const r = await new Controller({
        executable: p.exe,
        libPath: p.dir,
        args: ['-c', code],
        clock: { fixed: fixed * 1000 },
      }).run();
      const shown = Number(r.stdout.toString().trim());
      expect(shown).toBeGreaterThanOrEqual(fixed);
      expect(shown).toBeLessThan(fixed + 30);
    });
  }
});

describe('the relay and hostile guest bytes', () => {
  it('a call that stops in the middle goes to the controller as it is, and no report can be forged after it', async () => {
    // Half of getpid()i, a pause past the relay's patience, the rest, then a forged report of a
    // clock call (a 0 byte, then the call): the controller must read it as the guest's own bytes.
    const call = Buffer.concat([Buffer.of(9), Buffer.from('getpid()i')]);
    const forged = Buffer.concat([
      Buffer.of(0),
      Buffer.of(8),
      Buffer.from('time(p)i'),
      Buffer.alloc(8 + 8 + 4 + 2 + 8 + 4 + 2),
    ]);
    const r = await runGuest(
      [
        `raw ${call.subarray(0, 4).toString('hex')} -`,
        'sleep 300',
        `raw ${call.subarray(4).toString('hex')} i`,
        `raw ${forged.toString('hex')} -`,
        'sleep 1000',
      ],
      { limits: { stallMs: 5000 } },
    ).catch((e: unknown) => e);
    expect(r).toBeInstanceOf(SandboxError);
    const err = r as SandboxError;
    expect(err.kind).toBe('protocol');
    expect(err.message).toMatch(/length byte is 0/);
    // The first call was answered; the forged report was not counted.
    expect(err.result.calls).toBe(1);
  });
});
