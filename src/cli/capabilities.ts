import { execa } from 'execa';
import { parseSignature } from '../protocol/signature.js';
import { supervisorPath, wallLibraryPath } from '../supervisor/locate.js';

export interface CapabilityDump {
  version: number;
  platform: string;
  funcs: string[];
}

export interface CapabilityReport extends CapabilityDump {
  supported: string[];
  unsupported: string[];
}

/**
 * Runs a sandboxed binary with RPY_SANDBOX_DUMP set and parses what it declares. The binary is not
 * trusted more for printing a list: it runs behind the same walls as a run (the native launcher,
 * strict wall included), and without them only if the caller asks (`walls: false`).
 */
export async function dumpCapabilities(executable: string, timeoutMs = 10_000, walls = true): Promise<CapabilityDump> {
  let file = executable;
  let args: string[] = [];
  if (walls) {
    const wall = wallLibraryPath();
    if (!wall)
      throw new Error(
        'the capability dump runs behind the strict wall, and its library (build/native/libpypybox-wall.so) is not built; run "npm run build:native"',
      );
    file = supervisorPath();
    args = ['--protocol-guest', '--wall', wall, '--', executable, executable];
  }
  const r = await execa(file, args, {
    env: { RPY_SANDBOX_DUMP: '1' },
    extendEnv: false,
    stdin: 'ignore',
    reject: false,
    timeout: timeoutMs,
    maxBuffer: 1024 * 1024,
    encoding: 'utf8',
  });
  if (r.timedOut)
    throw new Error(
      `${executable} did not answer the capability dump within ${timeoutMs / 1000} s (is it a PyPy built with --sandbox?)`,
    );
  if (r.exitCode !== 0)
    throw new Error(
      `${executable} exited with ${r.exitCode ?? r.signal} on RPY_SANDBOX_DUMP${r.stderr ? `: ${String(r.stderr).trim().slice(0, 500)}` : ''}`,
    );
  return parseDump(String(r.stdout), executable);
}

/** One line for a binary whose capability dump failed (check, interact --debug): the first line of why. */
export function notSandboxedPyPy(executable: string, err: Error): string {
  const why = err.message.split('\n')[0]!.replace(/:\s*$/, '');
  return `${executable} is not a PyPy translated with --sandbox: no capability dump (${why})`;
}

function parseDump(text: string, source = 'dump'): CapabilityDump {
  const field = (name: string) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const version = field('Version');
  const funcs = field('Funcs');
  if (version === undefined || funcs === undefined) {
    throw new Error(
      `${source} printed no sandbox capability dump (expected "Version:" and "Funcs:" lines; is it a PyPy built with --sandbox?)`,
    );
  }
  const list = funcs.split(/\s+/).filter(Boolean);
  for (const f of list) parseSignature(f); // a malformed signature is reported, not guessed at
  return { version: Number(version), platform: field('Platform') ?? 'unknown', funcs: list };
}

export function compareCapabilities(dump: CapabilityDump, implemented: readonly string[]): CapabilityReport {
  const have = new Set(implemented);
  return {
    ...dump,
    supported: dump.funcs.filter((f) => have.has(f)),
    unsupported: dump.funcs.filter((f) => !have.has(f)),
  };
}

export const PROTOCOL_VERSION = 20001;
