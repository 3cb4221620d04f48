/**
 * The real sandboxed PyPy binaries (build/pypy-sandbox, unpacked by the tests' setup) through the
 * command line and through the library, against the floor of the same run: bench/replay.c
 * answering the binary from a recording of its own calls.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { PassThrough } from 'node:stream';
import { Controller, type ControllerOptions } from '../src/index.js';
import { spawnGuest } from '../src/controller/launch/spawn.js';
import { DEFAULT_ARGV0 } from '../src/controller/setup/filesystem.js';
import type { Row } from './row.js';

/** Library runs a process makes before its runs are measured as a warm process's. */
export const WARM_UP_RUNS = 10;

export interface SandboxedCase {
  /** What the row calls the run. */
  label: string;
  binary: string;
  libPath: string;
  args: string[];
  /** Extra command-line flags (e.g. --no-walls). */
  cliFlags: string[];
  /** Library options matching cliFlags. */
  options: Partial<ControllerOptions>;
}

export interface Floor {
  wallUs: number;
  guestCpuUs: number;
  ownCpuUs: number;
  calls: number;
}

/**
 * One run under pypy-box with every byte between it and the guest written to `log`, the guest
 * started by `replay exec` (no address randomisation, so a replay meets the same pointers).
 * Returns the number of calls the run made.
 */
export async function record(replay: string, c: SandboxedCase, log: string): Promise<number> {
  const argv = [c.options.argv0 ?? DEFAULT_ARGV0, ...c.args];
  const chunks: Buffer[] = [];
  let last = '';
  const add = (dir: '<' | '>', b: Buffer) => {
    // Consecutive bytes of one direction make one record: the replay reads or writes them at once.
    if (dir === last) {
      const prev = chunks.pop()!;
      chunks.push(Buffer.concat([prev, b]));
    } else chunks.push(Buffer.from(dir), b);
    last = dir;
  };
  const transport = () => {
    const t = spawnGuest(replay, ['exec', c.binary, ...argv], undefined, {}, false);
    const stdout = new PassThrough();
    const stdin = new PassThrough();
    t.stdout.on('data', (b: Buffer) => {
      add('<', b);
      stdout.write(b);
    });
    t.stdout.on('end', () => stdout.end());
    stdin.on('data', (b: Buffer) => {
      add('>', b);
      t.stdin.write(b);
    });
    stdin.on('end', () => t.stdin.end());
    return { ...t, stdin, stdout };
  };
  const r = await new Controller({
    executable: c.binary,
    libPath: c.libPath,
    args: c.args,
    ...c.options,
    transport,
  }).run();
  if (r.outcome !== 'exited' || r.exitCode !== 0)
    throw new Error(`recording ${c.label} ended with ${r.outcome} ${r.exitCode}: ${r.guestStderr}`);
  const head = [u32(argv.length), ...argv.map((a) => Buffer.from(`${a}\0`))];
  const records: Buffer[] = [];
  for (let k = 0; k < chunks.length; k += 2) records.push(chunks[k]!, u32(chunks[k + 1]!.length), chunks[k + 1]!);
  fs.writeFileSync(log, Buffer.concat([...head, ...records]));
  return r.calls;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** One replay of a recording; throws if the guest strayed from it (the floor would be meaningless). */
export function replayOnce(replay: string, log: string, binary: string, calls: number): Floor {
  const [wall, guest, own, differs, status] = execFileSync(replay, ['play', log, binary])
    .toString()
    .trim()
    .split(' ')
    .map(Number);
  if (differs !== -1 || status !== 0)
    throw new Error(`the replay of ${log} diverged at byte ${differs} (exit ${status})`);
  return { wallUs: wall!, guestCpuUs: guest!, ownCpuUs: own!, calls };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Wall time of a program run to its end, in ms (its output discarded; a failure throws). */
export function timeProgram(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${r.status}: ${r.stderr}`);
  return ms;
}

export interface SandboxedSetup {
  /** The command as typed (the package's bin). */
  bin: string;
  /** Its environment with the bench's command server, and with none. */
  served: NodeJS.ProcessEnv;
  cold: NodeJS.ProcessEnv;
  replay: string;
  logDir: string;
  runs: number;
  /** Median of `node -e 0` measured beside these rows (ms), for the command line's target. */
  nodeStart: () => number;
}

/**
 * Rows for one case: through the library (a warm process) and through the command line, each
 * against the replay floor, and the controller's cost per call against the floor's.
 */
export async function sandboxedRows(c: SandboxedCase, s: SandboxedSetup, push: (r: Row) => void): Promise<void> {
  const log = `${s.logDir}/${c.label.replace(/\W+/g, '-')}.replay`;
  const calls = await record(s.replay, c, log);
  const lib = async (extra: Partial<ControllerOptions> = {}) => {
    const t0 = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    const r = await new Controller({
      executable: c.binary,
      libPath: c.libPath,
      args: c.args,
      ...c.options,
      ...extra,
    }).run();
    const used = process.cpuUsage(cpu);
    // The guest's own clock reads vary a little from run to run (PyPy 2.7 reads the time about 450
    // times in the import-heavy script; one run in a few dozen makes 4 fewer calls): the same work.
    if (r.outcome !== 'exited' || r.exitCode !== 0 || Math.abs(r.calls - calls) > calls / 100)
      throw new Error(
        `${c.label} ended with ${r.outcome} ${r.exitCode} after ${r.calls} calls (recorded: ${calls}): ${r.guestStderr}`,
      );
    return { ms: Number(process.hrtime.bigint() - t0) / 1e6, cpuMs: (used.user + used.system) / 1e3 };
  };
  // A warm process, as a service that has run guests before: the spare supervisor, the tree's
  // caches, and the controller's code optimised (the first runs of a process take up to 1.7x).
  // Beside each, the same with every call sent to the controller (localAnswers: false): what the
  // supervisor's relay (clock calls answered, paths sent along) gives, measured in the same minutes.
  const direct = { localAnswers: false };
  for (let k = 0; k < WARM_UP_RUNS; k++) {
    await lib();
    await lib(direct);
  }
  const floors: Floor[] = [];
  const libs: { ms: number; cpuMs: number }[] = [];
  const directLibs: { ms: number; cpuMs: number }[] = [];
  const clis: number[] = [];
  const coldClis: number[] = [];
  const directClis: number[] = [];
  const nodes: number[] = [];
  const cliArgs = ['interact', ...c.cliFlags, '--lib-path', c.libPath, c.binary, ...c.args];
  const directCliArgs = ['interact', '--no-local-answers', ...cliArgs.slice(1)];
  // The server's workers run this binary a few times first, as the library's warm process did.
  for (let k = 0; k < WARM_UP_RUNS; k++) timeProgram(s.bin, cliArgs, s.served);
  for (let k = 0; k < s.runs; k++) {
    floors.push(replayOnce(s.replay, log, c.binary, calls));
    libs.push(await lib());
    await pause(30); // the spare supervisor is replaced just after a run: not during the next one
    directLibs.push(await lib(direct));
    await pause(30);
    clis.push(timeProgram(s.bin, cliArgs, s.served));
    await pause(30);
    directClis.push(timeProgram(s.bin, directCliArgs, s.served));
    await pause(30);
    coldClis.push(timeProgram(s.bin, cliArgs, s.cold));
    nodes.push(s.nodeStart());
  }
  const floor = median(floors.map((f) => f.wallUs / 1e3));
  const guestCpu = median(floors.map((f) => f.guestCpuUs / 1e3));
  const libMs = median(libs.map((l) => l.ms));
  const directLibMs = median(directLibs.map((l) => l.ms));
  const cliMs = median(clis);
  const coldCliMs = median(coldClis);
  const directCliMs = median(directClis);
  const node = median(nodes);
  const ratio = (x: number) => x / floor;
  push({
    name: `${c.label} through the library (warm process: ${WARM_UP_RUNS} runs before) vs the replay floor (median of ${s.runs}, ${calls} calls)`,
    pypyBox: libMs,
    baseline: floor,
    unit: 'ms',
    ratio: ratio(libMs),
    target: '<= 1.3x',
    met: libMs <= 1.3 * floor,
  });
  push({
    name: `${c.label} through the library, every call sent to the controller (localAnswers: false) vs the replay floor`,
    pypyBox: directLibMs,
    baseline: floor,
    unit: 'ms',
    ratio: ratio(directLibMs),
    note: `the relay's run takes ${(libMs / directLibMs).toFixed(2)}x this`,
  });
  const cliTarget = 1.3 * floor + 1.3 * node;
  push({
    name: `${c.label} through the command line vs the replay floor`,
    pypyBox: cliMs,
    baseline: floor,
    unit: 'ms',
    ratio: ratio(cliMs),
    target: '<= 1.3x + 1.3x node -e 0',
    met: cliMs <= cliTarget,
    note: `its command server running; target ${cliTarget.toFixed(0)} ms with node -e 0 at ${node.toFixed(0)} ms`,
  });
  push({
    name: `${c.label} through the command line with no command server (PYPY_BOX_SERVER=off) vs the replay floor`,
    pypyBox: coldCliMs,
    baseline: floor,
    unit: 'ms',
    ratio: ratio(coldCliMs),
    note: `Node started for the run: ${(coldCliMs / cliMs).toFixed(2)}x the served run`,
  });
  push({
    name: `${c.label} through the command line with --no-local-answers vs the replay floor`,
    pypyBox: directCliMs,
    baseline: floor,
    unit: 'ms',
    ratio: ratio(directCliMs),
    note: `the relay's run takes ${(cliMs / directCliMs).toFixed(2)}x this`,
  });
  // Wall time less the guest's own CPU (measured in the replay: the same work), over the calls.
  const perCall = (libMs - guestCpu) / calls;
  const floorPerCall = (floor - guestCpu) / calls;
  const ctrlCpu = median(libs.map((l) => l.cpuMs)) / calls;
  const directCpu = median(directLibs.map((l) => l.cpuMs)) / calls;
  const directPerCall = (directLibMs - guestCpu) / calls;
  const ownCpu = median(floors.map((f) => f.ownCpuUs / 1e3)) / calls;
  push({
    name: `${c.label}: per call, wall less the guest's CPU, library vs replay floor`,
    pypyBox: perCall * 1e3,
    baseline: floorPerCall * 1e3,
    unit: 'µs/call',
    ratio: perCall / floorPerCall,
    target: '<= 2x',
    met: perCall <= 2 * floorPerCall,
    note: `Node's CPU ${(ctrlCpu * 1e3).toFixed(0)} µs/call (the supervisor's not counted), the replay's ${(ownCpu * 1e3).toFixed(0)} µs/call; guest CPU ${guestCpu.toFixed(0)} ms`,
  });
  push({
    name: `${c.label}: per call, every call sent to the controller (localAnswers: false), vs replay floor`,
    pypyBox: directPerCall * 1e3,
    baseline: floorPerCall * 1e3,
    unit: 'µs/call',
    ratio: directPerCall / floorPerCall,
    note: `Node's CPU ${(directCpu * 1e3).toFixed(0)} µs/call`,
  });
}

function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
