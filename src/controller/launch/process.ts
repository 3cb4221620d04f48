/**
 * A guest or supervisor process as the controller starts it: four pipes, no shell, nothing of the
 * host's environment, and a promise of how it ended once its streams are closed. Node's own
 * child_process does all of it; a process-running library cost a tenth of the command line's
 * start-up to load and some milliseconds of every start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

interface ChildEnd {
  /** The exit code, when the process exited by itself. */
  exitCode?: number;
  /** The signal that ended it, by name. */
  signal?: string;
  /** It did not exit with 0: a signal, a code, or it could not be started. */
  failed: boolean;
  message: string;
  /** Why it could not be started, as Node said it (`spawn /x ENOENT`). */
  originalMessage?: string;
}

export type Child = ChildProcess & {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Settles when the process has ended and every one of its pipes is closed. */
  ended: Promise<ChildEnd>;
};

/** A SIGTERM not obeyed within this is followed by SIGKILL. */
const FORCE_KILL_MS = 2000;

export function startChild(
  file: string,
  args: string[],
  argv0: string | undefined,
  env: Record<string, string>,
): Child {
  const child = spawn(file, args, {
    ...(argv0 !== undefined ? { argv0 } : {}),
    env,
    stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
  }) as Child;
  const command = [file, ...args].join(' ');
  // Output nobody reads from the start is let flow (and dropped), or the pipes would never close.
  setImmediate(() => {
    for (const s of child.stdio.slice(1) as (Readable | null)[]) if (s && s.readableFlowing === null) s.resume();
  });
  child.ended = new Promise<ChildEnd>((resolve) => {
    let startError: Error | undefined;
    // Listened to for good: an error event nobody hears (a kill that fails) would end the host.
    child.on('error', (err) => {
      startError ??= err;
      // Never started: there is no exit to wait for, only the pipes Node made for it.
      if (child.pid === undefined) {
        for (const s of child.stdio) s?.destroy();
        resolve({
          failed: true,
          message: `Command failed with ${(err as NodeJS.ErrnoException).code ?? 'an error'}: ${command}\n${err.message}`,
          originalMessage: err.message,
        });
      }
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (startError && child.pid === undefined) return;
      const failed = code !== 0 || signal !== null;
      const how = signal !== null ? `was killed with ${signal}` : `failed with exit code ${code}`;
      resolve({
        ...(code !== null ? { exitCode: code } : {}),
        ...(signal !== null ? { signal } : {}),
        failed,
        message: failed ? `Command ${how}: ${command}` : '',
      });
    });
  });
  const kill = child.kill.bind(child);
  child.kill = (sig: NodeJS.Signals | number = 'SIGTERM') => {
    const sent = kill(sig);
    if (sent && (sig === 'SIGTERM' || sig === 15)) {
      const timer = setTimeout(() => {
        if (child.exitCode === null && child.signalCode === null) kill('SIGKILL');
      }, FORCE_KILL_MS);
      timer.unref();
      void child.ended.then(() => clearTimeout(timer));
    }
    return sent;
  };
  return child;
}
