import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor } from '../src/index.js';
import { supervisorPath } from '../src/supervisor/locate.js';
import { parseNote } from '../src/supervisor/notes.js';
import { refusedRun, ROOT } from './helpers.js';

/**
 * An interpreter root can run but the guest's unprivileged uid cannot: a copy of python3 in a
 * directory closed to everyone but root. Its exec fails in the supervisor's child, after the
 * walls are up, where a failure used to end the run as `exited 127` without a word.
 */
function unreachableInterpreter(dirName = 'root-only'): string {
  const dir = path.join(ROOT, 'build/test', dirName);
  const file = path.join(dir, 'python3');
  const source = fs.realpathSync('/usr/bin/python3');
  fs.mkdirSync(dir, { recursive: true });
  // Copied once: a new copy is a new interpreter to profile (its libraries, its standard library).
  if (fs.statSync(file, { throwIfNoEntry: false })?.size !== fs.statSync(source).size) fs.copyFileSync(source, file);
  fs.chmodSync(file, 0o755);
  fs.chmodSync(dir, 0o700);
  return file;
}

describe('the start-failed note', () => {
  it('carries what failed and its errno (0: none); anything else is malformed', () => {
    expect(
      parseNote(
        "start-failed the guest's child: fork of the PID namespace's init: Resource temporarily unavailable 11",
      ),
    ).toEqual({
      kind: 'start-failed',
      reason: "the guest's child: fork of the PID namespace's init: Resource temporarily unavailable",
      errno: 11,
    });
    expect(
      parseNote('start-failed no free uid: all 1 of 7..7 are in use by other runs (lock file /l) 0'),
    ).toMatchObject({ errno: 0 });
    for (const bad of [
      'start-failed',
      'start-failed 11',
      'start-failed why',
      'start-failed why 99999',
      'start-failed caf\u00e9 2',
    ]) {
      expect(() => parseNote(bad), bad).toThrow(/malformed note/);
    }
  });
});

describe.runIf(process.getuid?.() === 0)('a run that cannot start', () => {
  afterAll(closeSpareSupervisor);

  it('says what failed and the errno, from a fresh supervisor and from the spare', async () => {
    const python = unreachableInterpreter();
    await closeSpareSupervisor();
    // The first run starts a fresh supervisor; from the second on the spare's waiting child serves.
    for (let k = 0; k < 3; k++) {
      const err = await refusedRun({ python, args: ['-c', 'print(1)'], timeout: 30_000 });
      expect(err.kind).toBe('spawn');
      expect(err.message).toBe(
        `cannot start ${python}: the guest's child: exec of ${python}: Permission denied (EACCES)`,
      );
      expect(err.result.outcome).toBe('killed');
      expect(err.result.exitCode).toBeNull();
    }
  });

  it('says so in one line of printable ASCII, whatever bytes the path has', async () => {
    const python = unreachableInterpreter('root-only-caf\u00e9');
    const err = await refusedRun({ python, args: ['-c', 'print(1)'], spareSupervisor: false, timeout: 30_000 });
    expect(err.kind).toBe('spawn');
    expect(err.message).toBe(
      `cannot start ${python}: the guest's child: exec of ${python.replace('\u00e9', '??')}: Permission denied (EACCES)`,
    );
  });

  it("is told by the supervisor on its notes: the child's failure first, then its own view", async () => {
    // A process limit of 1 for the run's uid: the child cannot fork its PID namespace's init.
    const sup = spawn(supervisorPath(), ['--nproc', '1', '--', '/usr/bin/python3', 'python3', '-c', 'print(1)'], {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    });
    let notes = '';
    let stderr = '';
    sup.stdio[3]!.on('data', (b: Buffer) => (notes += b.toString()));
    sup.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((resolve) => sup.on('close', resolve));
    expect(code).toBe(127);
    expect(stderr).toBe('');
    expect(notes.split('\n').filter((l) => l.startsWith('start-failed'))).toEqual([
      "start-failed the guest's child: fork of the PID namespace's init: Resource temporarily unavailable 11",
      "start-failed the guest's child ended (exit status 127) before handing over its seccomp listener 0",
    ]);
  });
});
