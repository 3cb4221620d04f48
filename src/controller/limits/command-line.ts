import { LIMITS } from '../../supervisor/contract/contract.js';
import type { Limits } from '../options.js';

/**
 * The limits as the supervisor's options: its caps (CPU, memory and tasks in the run's cgroup, or
 * rlimits and polling where `cgroup` is off), descriptors, heap. `stock`: a stock interpreter (the
 * supervisor counts its descriptors and polls its heap), else a sandboxed PyPy behind the walls.
 */
export function supervisorLimitArgs(limits: Limits, stock: boolean, cgroup: 'required' | 'off' | 'auto'): string[] {
  const args: string[] = [];
  if (limits.cpuSeconds > 0) args.push('--cpu', String(limits.cpuSeconds));
  args.push('--memory', String(limits.memoryBytes), '--tasks', String(limits.tasks), '--cgroup', cgroup);
  // Every descriptor counts, the guest's own pipes and memfds as well as the controller's files.
  if (stock) args.push('--max-fds', String(limits.openFiles));
  if (limits.heapBytes > 0) {
    // Resident memory is the limit for stock guests; the address-space cap behind it leaves room
    // for what interpreters reserve without touching.
    if (stock) args.push('--heap', String(limits.heapBytes));
    args.push('--as', String(limits.heapBytes * 2 + 512 * 1024 * 1024));
  }
  // Virtual descriptors of a stock guest are numbered from 512 up, so its limit leaves room for them.
  args.push('--nofile', String(stock ? LIMITS.virtualFdBase + limits.openFiles + 64 : Math.max(limits.openFiles, 16)));
  // Threads and processes: the cgroup's task cap (--tasks); where no cgroup can be made the
  // supervisor sets RLIMIT_NPROC to it instead (per user: not the precise count a cgroup keeps).
  return args;
}

/** A sandboxed PyPy's own heap cap: its GC aborts past `--heapsize` (see heap-exhaustion.ts). */
export function pypyHeapArgs(limits: Limits): string[] {
  return limits.heapBytes > 0 ? ['--heapsize', String(limits.heapBytes)] : [];
}

/** The limits the handlers read from the session (`session.limits`). */
export function sessionLimits(limits: Limits, stock: boolean): { maxIoBytes: number; maxPathLength: number } {
  // The supervisor moves at most one chunk (1 MiB) per command.
  return {
    maxIoBytes: stock ? Math.min(limits.ioChunkBytes, LIMITS.maxChunk) : limits.ioChunkBytes,
    maxPathLength: limits.pathLength,
  };
}
