import { execa } from 'execa';
import type { Readable, Writable } from 'node:stream';

/** How the controller reaches one guest: its standard streams, its end, and a way to kill it. */
export interface GuestTransport {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Notes from the supervisor (walls in force, limits hit), when there is one. */
  notes?: Readable;
  kill(): void;
  /** Settles when the guest has ended and its streams are closed. */
  done: Promise<{ exitCode?: number; signal?: string; failed?: boolean; message?: string }>;
}

/**
 * Starts the guest with nothing of the host's environment and its three standard streams as pipes:
 * stdin/stdout carry the protocol, stderr only the guest's own fatal messages; fd 3 carries the
 * supervisor's notes and is never given to the guest.
 */
export function spawnGuest(file: string, args: string[], argv0: string | undefined, env: Record<string, string>, supervised = false): GuestTransport {
  const child = execa(file, args, {
    ...(argv0 !== undefined ? { argv0 } : {}),
    env,
    extendEnv: false,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
    buffer: false,
    encoding: 'buffer',
    reject: false,
    cleanup: true,
    forceKillAfterDelay: 2000,
    stripFinalNewline: false,
  });
  // A guest that dies leaves EPIPE on its stdin: its end is reported, not the write error.
  child.stdin!.on('error', () => undefined);
  return {
    stdin: child.stdin!,
    stdout: child.stdout!,
    stderr: child.stderr!,
    notes: child.stdio[3] as Readable,
    // The supervisor ends on SIGTERM by killing its guest and reaping every process below it (no
    // zombies left for pid 1); SIGKILL follows if it has not ended within 2 s.
    kill: () => void child.kill(supervised ? 'SIGTERM' : 'SIGKILL'),
    done: child.then((r) => ({ exitCode: r.exitCode, signal: r.signal, failed: r.failed, message: r.message })),
  };
}
