import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { closeSpareSupervisor, Session } from '../src/index.js';
import { CLI } from './helpers.js';
import { leftOver, marker, STOCK } from './session-helpers.js';

// The depth bound of a call's return value (100 levels) is checked by the driver, inside the
// guest: a snippet can replace what the driver encodes with (`json.dumps`) and hand the host a
// value nested as deep as the answer bound allows. The host must not trust that check.

afterAll(() => closeSpareSupervisor());

const DEPTH = 100_000;
/** A snippet that makes every later call answer with a list nested DEPTH levels deep. */
const DEEP = `import json\njson.dumps = lambda v, allow_nan=False: "[" * ${DEPTH} + "]" * ${DEPTH}\ndef f():\n    return 1`;

describe.skipIf(!STOCK[0]!.path)('a call whose answer nests past the bound', () => {
  it('does not crash `pypy-box session`: the request is answered and the session ends cleanly', async () => {
    const mark = marker();
    const input = [
      { id: 1, op: 'run', code: DEEP },
      { id: 2, op: 'call', fn: '__main__:f', args: [] },
      { id: 3, op: 'run', code: '1 + 1' },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n');
    const r = await execa(process.execPath, [CLI, 'session', '--python', 'pypy3', '--max-answer', String(mark)], {
      input: `${input}\n`,
      reject: false,
      env: { NO_COLOR: '1' },
      timeout: 60_000,
    });
    expect(/RangeError|Maximum call stack/.test(r.stderr), r.stderr.slice(-400)).toBe(false);
    const lines = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.find((l) => l.id === 2)).toBeDefined();
    expect(lines.at(-1)).toMatchObject({ event: 'ended' });
    expect([0, 126]).toContain(r.exitCode);
    expect(await leftOver(mark)).toEqual([]);
  });

  it('is refused by the library, as the driver refuses it: no value deeper than 100 levels reaches the host', async () => {
    const mark = marker();
    const s = await Session.start({ python: 'pypy3', maxAnswerBytes: mark });
    try {
      // The deepest value the driver lets through (lists at depths 0 to 100) still arrives whole.
      await s.run('def nested(n):\n    v = []\n    for _ in range(n - 1):\n        v = [v]\n    return v');
      const deepest = await s.call('__main__:nested', [101]);
      expect(deepest.error).toBeNull();
      expect(JSON.stringify(deepest.result)).toBe('['.repeat(101) + ']'.repeat(101));
      expect((await s.call('__main__:nested', [102])).error?.message).toMatch(/deeper than 100 levels/);
      await s.run(DEEP);
      const r = await s.call('__main__:f', []);
      let depth = 0;
      for (let v: unknown = r.result; Array.isArray(v); v = (v as unknown[])[0]) depth++;
      expect(depth).toBeLessThanOrEqual(101);
      // A forged answer: the guest broke the driver, and ends its own session as a protocol error.
      expect((await s.closed()).reason).toBe('protocol');
    } finally {
      await s.close();
    }
    expect(await leftOver(mark)).toEqual([]);
  });
});
