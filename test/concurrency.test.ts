import { execFile } from 'node:child_process';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Controller } from '../src/index.js';
import { ROOT } from './helpers.js';

/**
 * `count` runs of `print(1)` started at once in one Node process of their own (test/many-runs.mjs,
 * on the built package): hundreds of runs in the test worker would starve its messages to the
 * test runner. Returns how they ended, counted.
 */
async function batch(pythons: string[], count: number): Promise<Record<string, number>> {
  const script = path.join(ROOT, 'test/many-runs.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, [script, pythons.join(','), String(count)], {
    timeout: 290_000,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as Record<string, number>;
}

// Runs as the same host uid used to share its process limit: a share of a large batch failed to fork.
describe('many runs at once in one process', () => {
  afterAll(closeSpareSupervisor);

  it('100 runs of pypy3 and python3 all succeed', { timeout: 300_000 }, async () => {
    expect(await batch(['pypy3', 'python3'], 100)).toEqual({ 'exited 0 "1\\n"': 100 });
  });

  it('200 runs of python3 all succeed', { timeout: 300_000 }, async () => {
    expect(await batch(['python3'], 200)).toEqual({ 'exited 0 "1\\n"': 200 });
  });

  it('a guest holding 250 threads takes nothing from unrelated runs', { timeout: 300_000 }, async () => {
    // 250 threads and the main one, just under the per-run process limit (256); the threads wait
    // (natively) until the main thread has read stdin to its end.
    let holding!: (text: string) => void;
    const held = new Promise<string>((r) => (holding = r));
    const stdin = new PassThrough();
    const hogRun = new Controller({
      python: 'python3',
      args: [
        '-c',
        'import sys, threading\ngo = threading.Event()\nts = [threading.Thread(target=go.wait) for _ in range(250)]\n[t.start() for t in ts]\nprint(threading.active_count(), flush=True)\nsys.stdin.read()\ngo.set()\n[t.join() for t in ts]',
      ],
      stdin,
      stdout: (b) => holding(b.toString()),
      timeout: 280_000,
    }).run();
    expect(await held).toBe('251\n');
    expect(await batch(['python3'], 20)).toEqual({ 'exited 0 "1\\n"': 20 });
    stdin.end();
    const r = await hogRun;
    expect(r.outcome).toBe('exited');
    expect(r.exitCode).toBe(0);
  });
});
