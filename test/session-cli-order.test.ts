import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor } from '../src/index.js';
import { CLI } from './helpers.js';
import { STOCK } from './session-helpers.js';

// A client of `pypy-box session` may write its requests without waiting for each answer: a file
// op sent after a run sees what that run left in /tmp, as requests run in the order given
// (`interrupt` alone is answered while a run goes on).

afterAll(() => closeSpareSupervisor());

describe.skipIf(!STOCK[0]!.path)('pipelined requests of `pypy-box session`', () => {
  it('a files.read sent right after a run reads what the run wrote', async () => {
    const input = [
      {
        id: 1,
        op: 'run',
        code: 'import time\ntime.sleep(0.5)\nwith open("/tmp/out.txt", "w") as f:\n    f.write("done")',
      },
      { id: 2, op: 'files.read', path: 'out.txt' },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n');
    const r = await execa(process.execPath, [CLI, 'session', '--python', 'pypy3'], {
      input: `${input}\n`,
      reject: false,
      env: { NO_COLOR: '1' },
      timeout: 60_000,
    });
    const lines = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.id === 1)).toMatchObject({ ok: true, error: null });
    expect(lines.find((l) => l.id === 2)).toEqual({ id: 2, ok: true, data: 'done' });
    expect(lines.findIndex((l) => l.id === 1)).toBeLessThan(lines.findIndex((l) => l.id === 2));
  });
});
