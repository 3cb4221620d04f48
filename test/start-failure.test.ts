import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Controller, SandboxError } from '../src/index.js';
import { ROOT } from './helpers.js';

/**
 * An interpreter root can run but the guest's unprivileged uid cannot: a copy of python3 in a
 * directory closed to everyone but root. Its exec fails in the supervisor's child, after the
 * walls are up, where a failure used to end the run as `exited 127` without a word.
 */
function unreachableInterpreter(): string {
  const dir = path.join(ROOT, 'build/test/root-only');
  const file = path.join(dir, 'python3');
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(fs.realpathSync('/usr/bin/python3'), file);
  fs.chmodSync(file, 0o755);
  fs.chmodSync(dir, 0o700);
  return file;
}

async function startError(options: ConstructorParameters<typeof Controller>[0]): Promise<SandboxError> {
  const err = await new Controller(options).run().then(
    (r) => new Error(`the run started: ${r.outcome} ${r.exitCode}`),
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(SandboxError);
  return err as SandboxError;
}

describe.runIf(process.getuid?.() === 0)('a run that cannot start', () => {
  afterAll(closeSpareSupervisor);

  it('says what failed and the errno, from a fresh supervisor and from the spare', async () => {
    const python = unreachableInterpreter();
    await closeSpareSupervisor();
    // The first run starts a fresh supervisor; from the second on the spare's waiting child serves.
    for (let k = 0; k < 3; k++) {
      const err = await startError({ python, args: ['-c', 'print(1)'], timeout: 30_000 });
      expect(err.kind).toBe('spawn');
      expect(err.message).toBe(`cannot start ${python}: the guest's child: exec of ${python}: Permission denied (EACCES)`);
      expect(err.result.outcome).toBe('killed');
      expect(err.result.exitCode).toBeNull();
    }
  });
});
