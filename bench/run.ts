/**
 * pypy-box benchmarks: every row measured side by side in one run, reported as a ratio.
 * Run with `npm run bench`. Results also go to bench/results/<time>.json.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { closeSpareSupervisor, Controller, VirtualFS } from '../src/index.js';
import { findInterpreter } from '../src/guest/profile.js';
import { serversUnder } from '../src/server/running.js';
import { sessionRows } from './session.js';
import { poolRows, workerRows } from './pool.js';
import { sandboxedRows, timeProgram, WARM_UP_RUNS, type SandboxedCase } from './sandboxed.js';
import type { Row } from './row.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const build = path.join(root, 'build/bench');
fs.mkdirSync(build, { recursive: true });
const cc = process.env.CC ?? 'cc';
execFileSync(cc, ['-O2', '-o', path.join(build, 'pingpong'), path.join(root, 'bench/pingpong.c')]);
execFileSync(cc, ['-O2', '-o', path.join(build, 'guest'), path.join(root, 'test/guest/guest.c')]);
execFileSync(cc, ['-O2', '-o', path.join(build, 'replay'), path.join(root, 'bench/replay.c')]);
const PINGPONG = path.join(build, 'pingpong');
const REPLAY = path.join(build, 'replay');
/**
 * The command as a user types it: the package's `bin` (its native client), handing interact runs
 * to a command server of the bench's own (its sockets in a directory of this run, ended at the
 * end), and the same command with no server (PYPY_BOX_SERVER=off: Node started for the run).
 */
const BIN = path.join(root, 'dist/controller/pypy-box');
const serverDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-bench-server-'));
const SERVED: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: serverDir, PYPY_BOX_SERVER: 'wait' };
const COLD: NodeJS.ProcessEnv = { ...process.env, PYPY_BOX_SERVER: 'off' };
process.on('exit', () => {
  for (const pid of serversUnder(serverDir)) process.kill(pid, 'SIGTERM');
  fs.rmSync(serverDir, { recursive: true, force: true });
});
const GUEST = path.join(build, 'guest');
const quick = process.argv.includes('--quick');

const rows: Row[] = [];

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function guestRun(
  args: string[],
  extra: Partial<ConstructorParameters<typeof Controller>[0]> = {},
): Promise<number> {
  const t0 = process.hrtime.bigint();
  const r = await new Controller({ executable: GUEST, args, ...extra }).run();
  if (r.outcome !== 'exited') throw new Error(`bench guest ended with ${r.outcome}: ${r.guestStderr}`);
  return seconds(t0);
}

async function noopCall(): Promise<void> {
  const n = quick ? 20_000 : 100_000;
  const raw = Number(execFileSync(PINGPONG, ['calls', String(n)]).toString());
  const empty = median([await guestRun(['quiet']), await guestRun(['quiet']), await guestRun(['quiet'])]);
  const full = await guestRun(['quiet', `loop ${n}`, 'call getpid()i', 'end']);
  const per = (full - empty) / n;
  const rawAgain = Number(execFileSync(PINGPONG, ['calls', String(n)]).toString());
  const base = (raw + rawAgain) / 2;
  rows.push({
    name: 'no-op call getpid()i (C guest) vs raw pipe ping-pong',
    pypyBox: per * 1e6,
    baseline: base * 1e6,
    unit: 'µs/call',
    ratio: per / base,
    target: '<= 2x',
    met: per / base <= 2,
  });
}

async function fileRead(): Promise<void> {
  const size = 64 << 20;
  const vfs = new VirtualFS();
  vfs.mountTmp('/tmp');
  vfs.addFile('/data/big', Buffer.alloc(size, 7));
  const pingpong = (mode: string, chunk: number) =>
    Number(execFileSync(PINGPONG, [mode, String(size), String(chunk)]).toString());
  for (const chunk of [8192, 65536, 1 << 20]) {
    // Medians of three, interleaved: the raw pipe alone varies by 2-3x between runs on a VM.
    const raw: number[] = [];
    const floor: number[] = [];
    const ours: number[] = [];
    for (let k = 0; k < 3; k++) {
      raw.push(pingpong('bandwidth', chunk));
      floor.push(pingpong('reads', chunk));
      ours.push(
        size /
          (await guestRun(
            [
              'quiet',
              `buf b ${chunk}`,
              'call open(pii)i s:/data/big 0 0',
              `loop ${size / chunk}`,
              `call read(ipi)i 3 b:b ${chunk}`,
              'end',
            ],
            { vfs },
          )),
      );
    }
    const rate = median(ours);
    const bw = median(raw);
    const rr = median(floor);
    rows.push({
      name: `read 64 MiB virtual file, ${chunk >= 1 << 20 ? `${chunk >> 20} MiB` : `${chunk >> 10} KiB`} per read(ipi)i vs raw pipe bandwidth`,
      pypyBox: rate / 1e6,
      baseline: bw / 1e6,
      unit: 'MB/s',
      ratio: bw / rate,
      target: '>= 50% of raw',
      met: rate / bw >= 0.5,
      note: `${((rate / bw) * 100).toFixed(1)}% of raw; ${((rate / rr) * 100).toFixed(0)}% of C-to-C read calls at ${(rr / 1e6).toFixed(0)} MB/s`,
    });
  }
}

/**
 * The strict wall's cost on a real sandboxed PyPy (build/pypy-sandbox, unpacked by the test setup):
 * `print(6*7)` behind every wall vs the same walls without the strict seccomp filter (its loader's
 * window answered by the supervisor, and the filter evaluated twice on every native call).
 */
async function strictWall(runs: number): Promise<void> {
  const dir = path.join(root, 'build/pypy-sandbox/pypy3.6-sandbox');
  const label = 'sandboxed PyPy 3.6 `-S -c print(6*7)`: strict wall vs none';
  if (!fs.existsSync(path.join(dir, 'pypy3-c'))) {
    rows.push({
      name: `${label}: skipped (no build/pypy-sandbox; run the tests once)`,
      pypyBox: NaN,
      baseline: NaN,
      unit: 'ms',
      ratio: NaN,
    });
    return;
  }
  const once = async (seccomp: boolean) => {
    const t0 = process.hrtime.bigint();
    const r = await new Controller({
      executable: path.join(dir, 'pypy3-c'),
      libPath: dir,
      args: ['-S', '-c', 'print(6*7)'],
      walls: { seccomp },
    }).run();
    if (r.outcome !== 'exited' || r.walls.includes('seccomp-strict') !== seccomp)
      throw new Error(`sandboxed PyPy ended with ${r.outcome}: ${r.guestStderr}`);
    return seconds(t0);
  };
  const walled: number[] = [];
  const bare: number[] = [];
  for (let k = 0; k < runs; k++) {
    walled.push(await once(true));
    bare.push(await once(false));
  }
  const [w, b] = [median(walled), median(bare)];
  rows.push({
    name: `${label} (median of ${runs})`,
    pypyBox: w * 1e3,
    baseline: b * 1e3,
    unit: 'ms',
    ratio: w / b,
    target: '<= 1.1x',
    met: w / b <= 1.1,
  });
}

async function pythonStartup(label: string, args: string[], runs: number): Promise<void> {
  const interp = findInterpreter('pypy3');
  if (!interp) {
    rows.push({ name: `${label}: skipped (no pypy3)`, pypyBox: NaN, baseline: NaN, unit: 'ms', ratio: NaN });
    return;
  }
  const variants: Record<string, () => Promise<unknown>> = {
    native: () => execa(interp, args, { env: {}, extendEnv: false }),
    boxed: () => new Controller({ python: 'pypy3', args }).run(),
    forwarded: () => new Controller({ python: 'pypy3', args, localAnswers: false }).run(),
    fresh: () => new Controller({ python: 'pypy3', args, spareSupervisor: false }).run(),
  };
  for (const run of Object.values(variants)) await run(); // warm the profile cache and the spare
  const times: Record<string, number[]> = { native: [], boxed: [], forwarded: [], fresh: [] };
  for (let k = 0; k < runs; k++) {
    for (const [name, run] of Object.entries(variants)) {
      const t0 = process.hrtime.bigint();
      const r = await run();
      times[name]!.push(seconds(t0));
      if (name === 'boxed' && (r as { exitCode?: number }).exitCode !== 0)
        throw new Error(`${label} under pypy-box failed`);
      // A pause after every run, measured or not: the spare supervisor kept for the next run is
      // started just after a run ends, and must not overlap the next measurement (of any kind).
      await pause(30);
    }
  }
  const [n, b, f, fresh] = (['native', 'boxed', 'forwarded', 'fresh'] as const).map((k) => median(times[k]!));
  rows.push({
    name: `${label}: pypy3 native vs under pypy-box (median of ${runs})`,
    pypyBox: b! * 1e3,
    baseline: n! * 1e3,
    unit: 'ms',
    ratio: b! / n!,
    target: '<= 1.5x',
    met: b! / n! <= 1.5,
  });
  rows.push({
    name: `${label}, a run that starts its own supervisor (spareSupervisor: false)`,
    pypyBox: fresh! * 1e3,
    baseline: n! * 1e3,
    unit: 'ms',
    ratio: fresh! / n!,
  });
  rows.push({
    name: `${label}, every call sent to the controller (localAnswers: false)`,
    pypyBox: f! * 1e3,
    baseline: n! * 1e3,
    unit: 'ms',
    ratio: f! / n!,
  });
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function forwardedSyscall(): Promise<void> {
  const n = quick ? 2000 : 10000;
  const interp = findInterpreter('pypy3');
  if (!interp) return;
  const stdlib = execFileSync(interp, ['-c', 'import os; print(os.path.dirname(os.__file__))']).toString().trim();
  // A file in /tmp (written by the guest: the controller answers) and a file of the interpreter's
  // stdlib (the supervisor does).
  const probe = `/tmp/pypy-box-bench-${process.pid}`;
  for (const [what, path] of [
    ['forwarded to the controller', probe],
    ['answered by the supervisor', `${stdlib}/os.py`],
  ] as const) {
    const code = (count: number) =>
      `import os\nopen(${JSON.stringify(probe)}, 'w').close()\nfor i in range(${count}): os.stat(${JSON.stringify(path)})\nos.unlink(${JSON.stringify(probe)})`;
    const time = async (count: number, boxed: boolean) => {
      const t0 = process.hrtime.bigint();
      if (boxed) await new Controller({ python: 'pypy3', args: ['-c', code(count)] }).run();
      else await execa(interp, ['-c', code(count)], { env: {}, extendEnv: false });
      const t = seconds(t0);
      await pause(30);
      return t;
    };
    const boxed = ((await time(n, true)) - (await time(0, true))) / n;
    const native = ((await time(n, false)) - (await time(0, false))) / n;
    rows.push({
      name: `one system call ${what} (os.stat in stock pypy3) vs native`,
      pypyBox: boxed * 1e6,
      baseline: native * 1e6,
      unit: 'µs/call',
      ratio: boxed / native,
    });
  }
}

async function memoryAfterRuns(): Promise<void> {
  const n = quick ? 200 : 1000;
  global.gc?.();
  const before = process.memoryUsage().rss;
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < n; k++) await guestRun(['call getpid()i']);
  const seq = seconds(t0);
  global.gc?.();
  const after = process.memoryUsage().rss;
  rows.push({
    name: `controller resident memory before vs after ${n} sequential runs`,
    pypyBox: after / 2 ** 20,
    baseline: before / 2 ** 20,
    unit: 'MiB',
    ratio: after / before,
    note: `${(n / seq).toFixed(0)} runs/s sequential`,
  });
  const t1 = process.hrtime.bigint();
  await Promise.all(Array.from({ length: 50 }, () => guestRun(['call getpid()i'])));
  const conc = seconds(t1);
  rows.push({
    name: '50 concurrent runs vs 50 sequential (throughput)',
    pypyBox: 50 / conc,
    baseline: n / seq,
    unit: 'runs/s',
    ratio: n / seq / (50 / conc),
  });
}

/**
 * A path's cost grows with its length, not with its square: stat('.') at the bottom of a chain of
 * 1,000 directories in /tmp (the cwd), against the same at the top. The guest builds the chain
 * itself; the note says what that cost the controller.
 */
async function deepPath(): Promise<void> {
  const depth = 1000;
  const n = quick ? 200 : 1000;
  const script = (levels: number) => [
    'quiet',
    'buf st 144',
    `loop ${levels}`,
    'call mkdir(pi)i s:d 493',
    'call chdir(p)i s:d',
    'end',
    `loop ${n}`,
    'call stat64(pp)i s:. b:st',
    'end',
  ];
  // Timed from the first stat's arrival to the last's, inside one run: building the chain (and
  // starting the guest) varies far more than the stats take.
  const perStat = async (levels: number) => {
    const arrivals: number[] = [];
    const cpu = process.cpuUsage();
    const r = await new Controller({
      executable: GUEST,
      args: script(levels),
      onCall: (c) => void (c.sig === 'stat64(pp)i' && arrivals.push(c.t)),
    }).run();
    const used = process.cpuUsage(cpu);
    if (r.outcome !== 'exited' || arrivals.length !== n)
      throw new Error(`deep path guest ended with ${r.outcome}: ${r.guestStderr}`);
    return { per: (arrivals[n - 1]! - arrivals[0]!) / (n - 1) / 1e6, cpu: (used.user + used.system) / 1e6 };
  };
  const top = await perStat(0);
  const bottom = await perStat(depth);
  rows.push({
    name: `stat('.') at depth ${depth} in /tmp (C guest) vs at depth 0`,
    pypyBox: bottom.per * 1e6,
    baseline: top.per * 1e6,
    unit: 'µs/call',
    ratio: bottom.per / top.per,
    note: `the whole run, chain built by the guest: ${bottom.cpu.toFixed(2)} s of controller CPU`,
  });
}

const nodeStart = () => timeProgram(process.execPath, ['-e', '0']);

/** What a person at a terminal waits for before anything runs: `pypy-box --version` vs `node -e 0`. */
function cliStartup(runs: number): void {
  timeProgram(BIN, ['--version']); // its code cache, as after any first run
  const ours: number[] = [];
  const node: number[] = [];
  for (let k = 0; k < runs; k++) {
    node.push(nodeStart());
    ours.push(timeProgram(BIN, ['--version']));
  }
  const [o, n] = [median(ours), median(node)];
  rows.push({
    name: `command line start-up: pypy-box --version vs node -e 0 (median of ${runs})`,
    pypyBox: o,
    baseline: n,
    unit: 'ms',
    ratio: o / n,
    target: '<= 1.3x',
    met: o / n <= 1.3,
  });
}

/** `pypy-box interact -c pass` (stock pypy3) as typed, against pypy3 itself and the same run through the library. */
async function interactPass(runs: number): Promise<void> {
  const interp = findInterpreter('pypy3');
  const label = 'pypy-box interact -c pass (stock pypy3)';
  if (!interp) {
    rows.push({ name: `${label}: skipped (no pypy3)`, pypyBox: NaN, baseline: NaN, unit: 'ms', ratio: NaN });
    return;
  }
  const library = async () => {
    const t0 = process.hrtime.bigint();
    const r = await new Controller({ python: 'pypy3', args: ['-c', 'pass'] }).run();
    if (r.exitCode !== 0) throw new Error(`${label} through the library failed: ${r.guestStderr}`);
    return seconds(t0) * 1e3;
  };
  timeProgram(BIN, ['interact', '-c', 'pass'], COLD); // the profile and code caches
  timeProgram(BIN, ['interact', '-c', 'pass'], SERVED); // the bench's command server started
  for (let k = 0; k < WARM_UP_RUNS; k++) await library();
  const times: Record<'cli' | 'cold' | 'native' | 'library', number[]> = { cli: [], cold: [], native: [], library: [] };
  for (let k = 0; k < runs; k++) {
    times.native.push(timeProgram(interp, ['-c', 'pass'], {}));
    times.cli.push(timeProgram(BIN, ['interact', '-c', 'pass'], SERVED));
    await pause(30);
    times.cold.push(timeProgram(BIN, ['interact', '-c', 'pass'], COLD));
    times.library.push(await library());
    await pause(30);
  }
  const [c, cold, n, l] = [median(times.cli), median(times.cold), median(times.native), median(times.library)];
  rows.push({
    name: `${label} vs pypy3 -c pass (median of ${runs})`,
    pypyBox: c,
    baseline: n,
    unit: 'ms',
    ratio: c / n,
    target: '<= 2x',
    met: c / n <= 2,
    note: 'its command server running',
  });
  rows.push({
    name: `${label} with no command server (PYPY_BOX_SERVER=off) vs pypy3 -c pass`,
    pypyBox: cold,
    baseline: n,
    unit: 'ms',
    ratio: cold / n,
    note: `node -e 0 alone: ${median(Array.from({ length: 5 }, nodeStart)).toFixed(0)} ms`,
  });
  rows.push({
    name: `${label} vs the same run through the library in a warm process (${WARM_UP_RUNS} runs before)`,
    pypyBox: c,
    baseline: l,
    unit: 'ms',
    ratio: c / l,
  });
}

/** The sandboxed PyPy 2.7 and 3.6 builds: `-S -c 'print(6*7)'` and an import-heavy script. */
async function sandboxedPyPys(runs: number): Promise<void> {
  const builds = path.join(root, 'build/pypy-sandbox');
  const pypys = [
    { name: 'sandboxed PyPy 2.7', dir: path.join(builds, 'pypy2.7-sandbox'), binary: 'pypy-c' },
    { name: 'sandboxed PyPy 3.6', dir: path.join(builds, 'pypy3.6-sandbox'), binary: 'pypy3-c' },
  ];
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pypy-box-bench-'));
  try {
    for (const p of pypys) {
      if (!fs.existsSync(path.join(p.dir, p.binary))) {
        rows.push({
          name: `${p.name}: skipped (no build/pypy-sandbox; run the tests once)`,
          pypyBox: NaN,
          baseline: NaN,
          unit: 'ms',
          ratio: NaN,
        });
        continue;
      }
      for (const [what, code] of [
        ['`-S -c print(6*7)`', 'print(6*7)'],
        ['import-heavy script', IMPORT_HEAVY],
      ] as const) {
        const c: SandboxedCase = {
          label: `${p.name} ${what}`,
          binary: path.join(p.dir, p.binary),
          libPath: p.dir,
          args: ['-S', '-c', code],
          cliFlags: [],
          options: {},
        };
        step(c.label);
        await sandboxedRows(c, { bin: BIN, served: SERVED, cold: COLD, replay: REPLAY, logDir, runs, nodeStart }, (r) =>
          rows.push(r),
        );
      }
    }
  } finally {
    fs.rmSync(logDir, { recursive: true, force: true });
  }
}

/** Library modules both sandboxed builds can import, as a program would (1,500-2,000 calls). */
const IMPORT_HEAVY =
  'import json, re, decimal, collections, datetime, fractions, textwrap, difflib, string, heapq, bisect, struct, base64; print(json.dumps([str(decimal.Decimal("1.1") + 2)]))';

function machine() {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
    kernel: os.release(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

function table(): string {
  const head = ['benchmark', 'pypy-box', 'baseline', 'unit', 'ratio', 'target'];
  const body = rows.map((r) => [
    r.name,
    fmt(r.pypyBox),
    fmt(r.baseline),
    r.unit,
    Number.isNaN(r.ratio) ? '-' : `${r.ratio.toFixed(2)}x${r.note ? ` (${r.note})` : ''}`,
    r.target ? `${r.target} ${r.met ? 'met' : 'NOT met'}` : '',
  ]);
  const lines = [head, ...body].map((cols) => `| ${cols.join(' | ')} |`);
  lines.splice(1, 0, `|${head.map(() => '---').join('|')}|`);
  return lines.join('\n');
}

function fmt(x: number): string {
  return Number.isNaN(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(2);
}

// Progress on stderr; the table goes to stdout at the end.
let stage = 'start';
process.on('exit', (code) => {
  if (stage !== 'done') console.error(`bench: ended with code ${code} during ${stage}`);
});
const step = (name: string) => {
  stage = name;
  console.error(`bench: ${name}`);
};
// `--only=startup,sandboxed` runs some stages (keys below); the default is all of them.
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',');
const stages: [string, string, () => unknown][] = [
  ['startup', 'command line start-up', () => cliStartup(quick ? 7 : 21)],
  ['interact', 'interact -c pass', () => interactPass(quick ? 5 : 15)],
  ['sandboxed', 'sandboxed PyPy binaries', () => sandboxedPyPys(quick ? 3 : 9)],
  ['noop', 'no-op calls', noopCall],
  ['reads', '64 MiB reads', fileRead],
  ['pypy3', 'pypy3 startup', () => pythonStartup('startup `-c pass`', ['-c', 'pass'], quick ? 5 : 21)],
  [
    'imports',
    'import-heavy script',
    () =>
      pythonStartup(
        'import-heavy script',
        ['-c', 'import json, re, decimal, collections, email.parser, argparse'],
        quick ? 3 : 11,
      ),
  ],
  ['wall', 'strict wall', () => strictWall(quick ? 3 : 9)],
  ['syscall', 'one system call', forwardedSyscall],
  ['deep', 'deep path', deepPath],
  ['runs', '1000 runs', memoryAfterRuns],
  ['sessions', 'sessions', async () => rows.push(...(await sessionRows(quick, root)))],
];
for (const [key, name, run] of stages) {
  if (only && !only.includes(key)) continue;
  step(name);
  await run();
}
await closeSpareSupervisor();
if (findInterpreter('pypy3') && (!only || only.includes('pools'))) {
  step('pools');
  const poolOfTwo = await poolRows(rows, quick);
  step('queue workers');
  await workerRows(rows, quick, root, poolOfTwo);
}
stage = 'done';

const out = table();
console.log(out);
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const file = path.join(root, 'bench/results', `${stamp}.json`);
fs.mkdirSync(path.dirname(file), { recursive: true });
fs.writeFileSync(
  file,
  JSON.stringify({ date: new Date().toISOString(), machine: machine(), command: 'npm run bench', rows }, null, 2) +
    '\n',
);
console.log(`\nmachine: ${JSON.stringify(machine())}\nwritten: ${path.relative(root, file)}`);
