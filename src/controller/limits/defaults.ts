import { nonNegInt, OptionError } from '../option-error.js';

/** Per-run limits (`limits`); each one reached is reported by name (`result.limit` or `result.limitsReached`). */
export interface Limits {
  /** Wall-clock time, ms (0 = none). */
  timeoutMs: number;
  /**
   * Ms the guest may go without sending a byte in the middle of a message (a call it started, a
   * reply it owes), or without reading answers that wait for it: then it is killed and the run
   * ends with a protocol error (0 = wait forever).
   */
  stallMs: number;
  /** Guest stdout+stderr bytes before it is stopped (0 = unlimited). */
  outputBytes: number;
  /** Bytes of stdin the guest may read (0 = unlimited). */
  stdinBytes: number;
  /** Open descriptors, stdio included. */
  openFiles: number;
  /** Open directory streams. */
  openDirs: number;
  /** Bytes the guest may store in /tmp. */
  tmpBytes: number;
  /** Longest path, NUL included. */
  pathLength: number;
  /** Most bytes one call moves (a larger read or write is served in part). */
  ioChunkBytes: number;
  /** Heap cap in bytes: `--heapsize` for a sandboxed PyPy, address-space and resident-memory (memfds included) caps for a stock guest (0 = none). */
  heapBytes: number;
  /** CPU seconds of the guest (RLIMIT_CPU, set by the supervisor; 0 = none); past it the run ends with the `cpu` limit. */
  cpuSeconds: number;
  /**
   * Memory of the guest in bytes, everything it makes the kernel hold (heap, memfds and other shared
   * memory, page cache): the memory cap of the run's cgroup; where no cgroup can be made, rlimits
   * and polling instead (see the README, "Limits and defaults"; 0 = none).
   */
  memoryBytes: number;
  /** Tasks (threads, processes) of the guest at once: the cgroup's task cap, else RLIMIT_NPROC (0 = none). */
  tasks: number;
}

export const LIBRARY_LIMITS: Limits = {
  timeoutMs: 0,
  stallMs: 5000,
  outputBytes: 1024 * 1024,
  stdinBytes: 0,
  openFiles: 256,
  openDirs: 64,
  tmpBytes: 64 * 1024 * 1024,
  pathLength: 4096,
  ioChunkBytes: 1024 * 1024,
  heapBytes: 0,
  cpuSeconds: 0,
  memoryBytes: 1024 * 1024 * 1024,
  tasks: 256,
};

/** Node's timers fire at once past this many milliseconds. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The run's limits: the defaults with the options' `limits` (and `timeout`), each checked. */
export function limitsFromOptions(o: { limits?: Partial<Limits>; timeout?: number }): Limits {
  const limits: Limits = { ...LIBRARY_LIMITS };
  for (const [k, v] of Object.entries(o.limits ?? {})) {
    if (!(k in LIBRARY_LIMITS))
      throw new OptionError(`limits.${k}`, `unknown limit (expected one of ${Object.keys(LIBRARY_LIMITS).join(', ')})`);
    (limits as unknown as Record<string, number>)[k] = nonNegInt(v, `limits.${k}`);
  }
  if (o.timeout !== undefined) limits.timeoutMs = nonNegInt(o.timeout, 'timeout');
  if (limits.openFiles < 3) throw new OptionError('limits.openFiles', 'must be at least 3 (the standard streams)');
  if (limits.pathLength < 2) throw new OptionError('limits.pathLength', 'must be at least 2');
  if (limits.ioChunkBytes < 1) throw new OptionError('limits.ioChunkBytes', 'must be at least 1');
  if (limits.stallMs > MAX_TIMER_MS)
    throw new OptionError('limits.stallMs', `must be at most ${MAX_TIMER_MS} (a timer's longest wait)`);
  return limits;
}
