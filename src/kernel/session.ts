import type { Platform } from '../platform/index.js';
import type { FileTable } from './files.js';
import type { InputSource, OutputSink } from './io.js';

/** What the guest is told about itself; virtual, unrelated to the host uid it runs as. */
export interface Identity {
  /** Real user id (default 1000). */
  uid: number;
  /** Real group id (default 1000). */
  gid: number;
  /** Effective user id (default 1000). */
  euid: number;
  /** Effective group id (default 1000). */
  egid: number;
  /** Process id (default 4200; sandboxed PyPy only). */
  pid: number;
  /** Parent process id (default 4199; sandboxed PyPy only). */
  ppid: number;
  /** Host name (`uname`, `gethostname`; default `sandbox`). */
  hostname: string;
}

/** `'real'`: the host's time; `{ fixed }`: a clock that starts at that date (a Date, a date string or ms) and advances in real time. */
export type ClockSpec = 'real' | { fixed: number | Date | string };

/** Virtual clock: the host's real time, or a fixed instant that advances with real elapsed time. */
export class Clock {
  private readonly offsetNs: bigint;
  private readonly startNs = process.hrtime.bigint();

  constructor(spec: ClockSpec = 'real') {
    if (spec === 'real') this.offsetNs = 0n;
    else {
      const ms = new Date(spec.fixed).getTime();
      if (Number.isNaN(ms)) throw new TypeError(`clock.fixed: not a date: ${String(spec.fixed)}`);
      this.offsetNs = BigInt(ms) * 1_000_000n - BigInt(Date.now()) * 1_000_000n;
    }
  }

  /** Wall-clock time in nanoseconds since the epoch. */
  realtimeNs(): bigint {
    return BigInt(Date.now()) * 1_000_000n + this.offsetNs;
  }

  /** Monotonic time since the run started. */
  monotonicNs(): bigint {
    return process.hrtime.bigint() - this.startNs;
  }

  /**
   * The same clock for the supervisor, which reads the host's: the offset of the realtime clock
   * from the host's (milliseconds, as Date.now()), and the CLOCK_MONOTONIC instant the run's
   * monotonic time counts from (process.hrtime reads CLOCK_MONOTONIC).
   */
  forSupervisor(): { offsetNs: bigint; startNs: bigint } {
    return { offsetNs: this.offsetNs, startNs: this.startNs };
  }
}

interface SessionLimits {
  /** Most bytes one call moves between controller and guest (reads are served in chunks of this). */
  maxIoBytes: number;
  /** Longest path accepted, NUL included. */
  maxPathLength: number;
}

/** Everything one run of one guest owns: what the handlers act on. */
export interface Session {
  readonly files: FileTable;
  readonly env: ReadonlyMap<string, string>;
  readonly identity: Identity;
  readonly clock: Clock;
  readonly platform: Platform;
  readonly limits: SessionLimits;
  readonly stdin: InputSource;
  readonly stdout: OutputSink;
  readonly stderr: OutputSink;
  readonly isatty: { stdin: boolean; stdout: boolean; stderr: boolean };
  /** Terminal settings the guest last set (kernel `struct termios`), and how they reach the host terminal (TCSETSF: flush). */
  terminal: {
    termios: Buffer | undefined;
    apply?: (termios: Buffer, flush: boolean) => void;
    available?: () => number;
  };
  /** Virtual path `_pypy_init_home` answers with. */
  readonly home: string;
  /** Guest pointers the controller allocated and keeps for reuse (getenv answers, environ). */
  readonly guestStrings: Map<string, bigint>;
  environPtr: bigint | undefined;
  /** Aborted when the run ends: long waits inside handlers stop with it. */
  readonly signal: AbortSignal;
  /** Exit status the guest asked for with `_exit`. */
  requestedExit: number | undefined;
  /** Stock guests: the supervisor answers getdents64 from listings sent with directory opens. */
  localListings?: boolean;
  /** Sandboxed PyPy through the supervisor's relay: it answers readdir from listings sent with opendir. */
  relayListings?: boolean;
  /** ... and reads read-only host files the guest opens itself (read, lseek, fstat64, close). */
  relayFiles?: boolean;
}
