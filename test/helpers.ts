import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import {
  closeSpareSupervisor,
  Controller,
  GuestErrno,
  SandboxError,
  type ControllerOptions,
  type RunResult,
} from '../src/index.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const GUEST = path.join(ROOT, 'build/test/guest');
export const GUEST_EXTRA = path.join(ROOT, 'build/test/guest-extra');
export const FIXTURES = path.join(ROOT, 'vfs-fixtures');
export const CLI = path.join(ROOT, 'dist/controller/pypy-box.cjs');

/** Runs the C test guest with a script; returns the result and the guest's per-call report lines. */
export async function runGuest(
  script: string[],
  opts: Partial<ControllerOptions> = {},
): Promise<RunResult & { lines: string[] }> {
  const r = await new Controller({ executable: GUEST, args: script, ...opts }).run();
  return { ...r, lines: r.guestStderr.split('\n').filter(Boolean) };
}

/** The "= RESULT errno=E" lines of a guest report, parsed. */
export function results(lines: string[]): { value: bigint; errno: number }[] {
  return lines
    .filter((l) => l.startsWith('= '))
    .map((l) => {
      const m = /^= (-?\d+) errno=(-?\d+)$/.exec(l)!;
      return { value: BigInt(m[1]!), errno: Number(m[2]) };
    });
}

export function openFds(): string[] {
  return fs.readdirSync('/proc/self/fd').sort();
}

/** One process as /proc/PID/stat tells it (fields after the command name). */
export interface ProcStat {
  pid: number;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
}

/** Every process /proc lists now; those gone while it is read are left out. */
export function processes(): ProcStat[] {
  const out: ProcStat[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid, pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.push({ pid: Number(name), state: state!, ppid: Number(ppid), pgrp: Number(pgrp), session: Number(session) });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Child processes of this process, from /proc. */
export function childPids(): number[] {
  return childrenOf(process.pid);
}

/** The errno a VFS operation fails with (0 when it succeeds). */
export function errnoOf(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    if (err instanceof GuestErrno) return err.errno;
    throw err;
  }
  return 0;
}

/** A run's result, or the SandboxError it rejected with (anything else is rethrown). */
export async function outcome(p: Promise<RunResult>): Promise<RunResult | SandboxError> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof SandboxError) return err;
    throw err;
  }
}

/** After a hostile run: the controller still works, and nothing leaked. */
export async function healthy(fdsBefore: string[]): Promise<void> {
  const r = await runGuest(['call getpid()i']);
  expect(r.outcome).toBe('exited');
  await closeSpareSupervisor();
  expect(openFds()).toEqual(fdsBefore);
  expect(childPids()).toEqual([]);
}

/** Processes whose parent is pid (from /proc). */
export function childrenOf(pid: number): number[] {
  return processes()
    .filter((p) => p.ppid === pid)
    .map((p) => p.pid);
}

/** Whether pid names a process that has not ended (a zombie has). */
export function alive(pid: number): boolean {
  try {
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch {
    return false;
  }
}

/** Polls check until it holds; throws after ms. */
export async function waitFor(check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A run that must not start: the SandboxError it rejects with (a run that started fails the test). */
export async function refusedRun(options: ControllerOptions): Promise<SandboxError> {
  const err = await new Controller(options).run().then(
    (r) => new Error(`the run started: ${r.outcome} ${r.exitCode}`),
    (e: unknown) => e as Error,
  );
  expect(err).toBeInstanceOf(SandboxError);
  return err as SandboxError;
}

/** Runs `fn` with PYPY_BOX_SUPERVISOR naming `file` (a stand-in or wrapper for the supervisor). */
export async function withSupervisor<T>(file: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.PYPY_BOX_SUPERVISOR;
  process.env.PYPY_BOX_SUPERVISOR = file;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.PYPY_BOX_SUPERVISOR;
    else process.env.PYPY_BOX_SUPERVISOR = before;
  }
}
