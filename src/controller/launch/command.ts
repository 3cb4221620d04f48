import type { StockProfile } from '../../guest/profile.js';
import { stockEnv } from '../../guest/stand-ins.js';
import { supervisorPath, wallLibraryPath } from '../../supervisor/locate.js';
import { pypyHeapArgs, supervisorLimitArgs } from '../limits/command-line.js';
import type { VirtualFS } from '../../vfs/vfs.js';
import type { ControllerOptions, Limits } from '../options.js';
import { DEFAULT_ARGV0 } from '../setup/filesystem.js';

/** What is executed for a run: the file, its arguments and environment, and whether a supervisor watches it. */
export interface GuestCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  argv0?: string;
  supervised?: boolean;
}

/** The guest's argv[0]: the stock interpreter's, else the option's (default /lib/pypy). */
export function guestArgv0(o: ControllerOptions, stock: StockProfile | undefined): string {
  return stock ? stock.argv0 : (o.argv0 ?? DEFAULT_ARGV0);
}

/** What is executed: the supervisor with the interpreter, or the sandboxed binary behind its walls. */
export function guestCommand(
  o: ControllerOptions,
  limits: Limits,
  stock: StockProfile | undefined,
  relay = false,
): GuestCommand {
  const args = o.args ?? [];
  if (stock) {
    return {
      file: supervisorPath(),
      args: [...wallArgs(o, limits, true), '--config-stdin', '--', stock.binary, stock.argv0, ...args],
      env: stockEnv(o.env),
      supervised: true,
    };
  }
  const heap = pypyHeapArgs(limits);
  if (o.walls === false) {
    return { file: o.executable!, args: [...heap, ...args], env: {}, argv0: guestArgv0(o, stock) };
  }
  // Walls asked for and not buildable here stop the run (fail closed): never run without them.
  let supervisor: string;
  try {
    supervisor = supervisorPath();
  } catch (err) {
    throw new Error(`the walls cannot be set up: ${(err as Error).message}`, { cause: err });
  }
  const seccomp = !(typeof o.walls === 'object' && o.walls.seccomp === false);
  const wall = seccomp ? wallLibraryPath() : undefined;
  if (seccomp && !wall) {
    throw new Error(
      'the seccomp-strict wall cannot be set up: its library (build/native/libpypybox-wall.so) is not built; run "npm run build:native"',
    );
  }
  return {
    file: supervisor,
    args: [
      '--protocol-guest',
      ...(wall ? ['--wall', wall] : []),
      ...(relay ? ['--relay-calls', '--config-stdin'] : []),
      ...wallArgs(o, limits, false),
      '--',
      o.executable!,
      guestArgv0(o, stock),
      ...heap,
      ...args,
    ],
    env: {},
    supervised: true,
  };
}

/**
 * A sandboxed PyPy behind its walls talks through the supervisor (src/supervisor/relay.ts) when
 * its filesystem shows a read-only host tree (its library, a grant): what the supervisor answers
 * is mostly there. A guest whose every call would go to the controller anyway (in-memory files,
 * output) is better off without the supervisor's hop on each of them. Never with local answers off.
 */
export function relaysCalls(o: ControllerOptions, vfs: VirtualFS): boolean {
  if (o.walls === false || o.localAnswers === false || o.transport) return false;
  return vfs
    .describeForSupervisor()
    .hostTrees()
    .some((t) => t.layer === 'mount');
}

/** Walls as supervisor options, then the limits they enforce. */
function wallArgs(o: ControllerOptions, limits: Limits, stock: boolean): string[] {
  const w = o.walls;
  const args: string[] = [];
  if (w === false || (typeof w === 'object' && w.namespaces === false)) args.push('--no-namespaces');
  // Asked for by name: a host that cannot make them stops the run instead of running without.
  else if (typeof w === 'object' && w.namespaces === true) args.push('--require-namespaces');
  if (w === false || (typeof w === 'object' && w.dropRoot === false)) args.push('--keep-uid');
  const ids = o.identityRange;
  if (ids?.first !== undefined) args.push('--uid-range', `${ids.first}:${ids.count}`);
  if (ids?.lockFile !== undefined) args.push('--uid-lock', ids.lockFile);
  return [...args, ...supervisorLimitArgs(limits, stock, cgroupMode(w))];
}

/** The supervisor's --cgroup: required when asked for, off with the walls (or alone), else where the host allows. */
function cgroupMode(w: ControllerOptions['walls']): 'required' | 'off' | 'auto' {
  if (w === false) return 'off';
  if (typeof w === 'object' && w.cgroup !== undefined) return w.cgroup ? 'required' : 'off';
  return 'auto';
}
