/**
 * Session rows of `npm run bench`: `x += 1` snippets in a warm Session against a fresh run per
 * snippet, and a session's cold start against `pypy3 -c pass` natively.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { Controller, Session, type SessionOptions } from '../src/index.js';
import { findInterpreter } from '../src/guest/profile.js';
import type { Row } from './row.js';

function ms(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((s.length * p) / 100))]!;
}

/** Latencies (ms) of `n` `x += 1` snippets in one warm session. */
async function warmSnippets(options: SessionOptions, n: number): Promise<{ times: number[]; perSecond: number }> {
  const s = await Session.start(options);
  try {
    await s.run('x = 0');
    for (let k = 0; k < 50; k++) await s.run('x += 1'); // warm the interpreter's paths
    const times: number[] = [];
    const all = process.hrtime.bigint();
    for (let k = 0; k < n; k++) {
      const t0 = process.hrtime.bigint();
      const r = await s.run('x += 1');
      times.push(ms(t0));
      if (r.error) throw new Error(`bench snippet failed: ${r.error.traceback}`);
    }
    const total = ms(all);
    if ((await s.run('x')).value !== String(n + 50)) throw new Error('bench session lost its state');
    return { times, perSecond: (n / total) * 1000 };
  } finally {
    await s.close();
  }
}

/** Latencies (ms) of `n` fresh runs, each a whole program doing the same. */
async function freshRuns(python: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let k = 0; k < n; k++) {
    const t0 = process.hrtime.bigint();
    const r = await new Controller({ python, args: ['-c', 'x = 0\nx += 1'] }).run();
    times.push(ms(t0));
    if (r.exitCode !== 0) throw new Error('bench run failed');
    await new Promise((r) => setTimeout(r, 20)); // let the spare supervisor start outside the measurement
  }
  return times;
}

export async function sessionRows(quick: boolean, root: string): Promise<Row[]> {
  const rows: Row[] = [];
  const pypy = findInterpreter('pypy3');
  if (!pypy) return [{ name: 'session rows: skipped (no pypy3)', pypyBox: NaN, baseline: NaN, unit: 'ms', ratio: NaN }];
  const n = quick ? 300 : 2000;
  const warm = await warmSnippets({ python: 'pypy3' }, n);
  const fresh = await freshRuns('pypy3', quick ? 10 : 40);
  const [p50, p99, f50, f99] = [
    percentile(warm.times, 50),
    percentile(warm.times, 99),
    percentile(fresh, 50),
    percentile(fresh, 99),
  ];
  rows.push({
    name: `\`x += 1\` in a warm Session vs a fresh run per snippet, p50 (stock pypy3, ${n} snippets)`,
    pypyBox: p50,
    baseline: f50,
    unit: 'ms',
    ratio: p50 / f50,
    target: 'p50 < 2 ms',
    met: p50 < 2,
  });
  rows.push({
    name: '`x += 1` in a warm Session vs a fresh run per snippet, p99',
    pypyBox: p99,
    baseline: f99,
    unit: 'ms',
    ratio: p99 / f99,
  });
  const freshPerSecond = 1000 / (fresh.reduce((a, b) => a + b, 0) / fresh.length);
  rows.push({
    name: '`x += 1` snippets per second: a warm Session vs fresh runs',
    pypyBox: warm.perSecond,
    baseline: freshPerSecond,
    unit: 'snippets/s',
    ratio: freshPerSecond / warm.perSecond,
  });
  // Cold start: a session ready for its first snippet, against the interpreter starting natively.
  const runs = quick ? 5 : 15;
  const cold: number[] = [];
  const native: number[] = [];
  await (await Session.start({ python: 'pypy3' })).close(); // the profile cache and the spare
  for (let k = 0; k < runs; k++) {
    let t0 = process.hrtime.bigint();
    await execa(pypy, ['-c', 'pass'], { env: {}, extendEnv: false });
    native.push(ms(t0));
    t0 = process.hrtime.bigint();
    const s = await Session.start({ python: 'pypy3' });
    cold.push(ms(t0));
    await s.close();
    await new Promise((r) => setTimeout(r, 30));
  }
  const [c50, n50] = [percentile(cold, 50), percentile(native, 50)];
  rows.push({
    name: `Session.start until ready (stock pypy3) vs \`pypy3 -c pass\` natively (median of ${runs})`,
    pypyBox: c50,
    baseline: n50,
    unit: 'ms',
    ratio: c50 / n50,
    target: '<= 1.5x',
    met: c50 / n50 <= 1.5,
  });
  rows.push(...(await pyodideRows(p50, c50, n)));
  // The sandboxed PyPy 3.6 build, when the tests have unpacked it.
  const dir = path.join(root, 'build/pypy-sandbox/pypy3.6-sandbox');
  if (fs.existsSync(path.join(dir, 'pypy3-c'))) {
    const sandboxed = await warmSnippets({ executable: path.join(dir, 'pypy3-c'), libPath: dir }, quick ? 200 : 1000);
    const s50 = percentile(sandboxed.times, 50);
    rows.push({
      name: '`x += 1` in a warm Session on the sandboxed PyPy 3.6 vs stock pypy3, p50',
      pypyBox: s50,
      baseline: p50,
      unit: 'ms',
      ratio: s50 / p50,
      note: `${sandboxed.perSecond.toFixed(0)} snippets/s`,
    });
  }
  return rows;
}

/**
 * Pyodide (CPython in WebAssembly, npm `pyodide`) in this very process, the comparison users make:
 * no process wall around it, only the wasm boundary; runPython is synchronous.
 */
async function pyodideRows(sessionP50: number, sessionCold: number, n: number): Promise<Row[]> {
  let load: (() => Promise<{ runPython(code: string): unknown }>) | undefined;
  try {
    const mod = (await import('pyodide')) as { loadPyodide: () => Promise<{ runPython(code: string): unknown }> };
    load = mod.loadPyodide;
  } catch {
    return [
      {
        name: 'Pyodide rows: skipped (npm pyodide not installed)',
        pypyBox: NaN,
        baseline: NaN,
        unit: 'ms',
        ratio: NaN,
      },
    ];
  }
  let t0 = process.hrtime.bigint();
  const py = await load();
  const cold = ms(t0);
  py.runPython('x = 0');
  for (let k = 0; k < 50; k++) py.runPython('x += 1');
  const times: number[] = [];
  for (let k = 0; k < n; k++) {
    t0 = process.hrtime.bigint();
    py.runPython('x += 1');
    times.push(ms(t0));
  }
  const p50 = percentile(times, 50);
  return [
    {
      name: '`x += 1` in a warm Session (stock pypy3) vs Pyodide runPython in-process, p50',
      pypyBox: sessionP50,
      baseline: p50,
      unit: 'ms',
      ratio: sessionP50 / p50,
      note: `Pyodide p99 ${percentile(times, 99).toFixed(3)} ms; no process wall`,
    },
    {
      name: 'Session.start until ready (stock pypy3) vs loadPyodide() cold',
      pypyBox: sessionCold,
      baseline: cold,
      unit: 'ms',
      ratio: sessionCold / cold,
    },
  ];
}
