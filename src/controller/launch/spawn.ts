import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { start, type Child } from './child.js';
import { NoteFeed } from './note-feed.js';
import { countSupervisedStart, ending, replaceSpare, startMessage, takeSpare } from './spare.js';

/** How the controller reaches one guest: its standard streams, its end, and a way to kill it. */
export interface GuestTransport {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Notes from the supervisor (walls in force, limits hit), when there is one. */
  notes?: Readable;
  /** The same notes parsed, for a transport started here (others' `notes` are parsed by the run). */
  noteFeed?: NoteFeed;
  kill(): void;
  /**
   * The terminal's interrupt or quit character for the guest (SIGINT, SIGQUIT): a supervisor is
   * asked to pass it on (SIGUSR1, SIGUSR2), a guest started without one gets it directly.
   */
  interrupt?(sig: 'SIGINT' | 'SIGQUIT'): void;
  /** Settles when the guest has ended and its streams are closed. */
  done: Promise<GuestEnd>;
  /**
   * Supervised guests: settles as soon as the supervisor has told how the guest ended and closed
   * every stream to the controller, which may be before its own process has finished tearing
   * down the guest's namespaces (it does so at once, by itself). Never settles otherwise.
   */
  told?: Promise<GuestEnd>;
}

export interface GuestEnd {
  exitCode?: number;
  signal?: string;
  failed?: boolean;
  message?: string;
}

/** `exit STATUS` on the notes and the end of every stream: the supervisor's early word (end_early). */
function told(child: Child, feed: NoteFeed): Promise<GuestEnd> {
  return new Promise((resolve) => {
    const notes = child.stdio[3] as Readable;
    const open = new Set<Readable>([child.stdout, child.stderr, notes]);
    let status: number | undefined;
    const check = () => {
      if (status === undefined || open.size > 0) return;
      const sig = status & 0x7f;
      if (sig === 0) resolve({ exitCode: (status >> 8) & 0xff });
      else
        resolve({
          signal: Object.entries(os.constants.signals).find(([, n]) => n === sig)?.[0] ?? `signal ${sig}`,
          failed: true,
        });
    };
    feed.subscribe({
      notes: (added) => {
        for (const note of added) if (note.kind === 'exit') status = note.status;
        check();
      },
      broken: () => undefined, // malformed notes: the run is told too, and ends for them
    });
    for (const s of open) {
      const gone = () => {
        open.delete(s);
        check();
      };
      s.once('end', gone);
      s.once('close', gone);
    }
  });
}

function transport(child: Child, supervised: boolean): GuestTransport {
  const noteFeed = new NoteFeed(child.stdio[3] as Readable);
  let early: Promise<GuestEnd> | undefined;
  if (supervised) {
    early = told(child, noteFeed);
    void early.then(() => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone: Promise<unknown> = child.ended.then((): void => void ending.delete(gone));
      ending.add(gone);
    });
  }
  return {
    ...(early ? { told: early } : {}),
    stdin: child.stdin,
    stdout: child.stdout,
    stderr: child.stderr,
    notes: child.stdio[3] as Readable,
    noteFeed,
    // The supervisor ends on SIGTERM by killing its guest and reaping every process below it (no
    // zombies left for pid 1); SIGKILL follows if it has not ended within 2 s.
    kill: () => void child.kill(supervised ? 'SIGTERM' : 'SIGKILL'),
    interrupt: (sig) => void child.kill(supervised ? (sig === 'SIGINT' ? 'SIGUSR1' : 'SIGUSR2') : sig),
    done: child.ended.then((r) => ({ exitCode: r.exitCode, signal: r.signal, failed: r.failed, message: r.message })),
  };
}

/**
 * Starts the guest with nothing of the host's environment and its three standard streams as pipes:
 * stdin/stdout carry the protocol, stderr only the guest's own fatal messages; fd 3 carries the
 * supervisor's notes and is never given to the guest.
 *
 * A supervised guest may start from the spare supervisor (below): the same process it would
 * otherwise get, only started before the run asked for it.
 */
export function spawnGuest(
  file: string,
  args: string[],
  argv0: string | undefined,
  env: Record<string, string>,
  supervised = false,
  useSpare = true,
): GuestTransport {
  if (supervised && argv0 === undefined && useSpare) {
    countSupervisedStart();
    const message = startMessage(args, env); // before a spare is taken: a bad word leaves it waiting
    const ready = takeSpare(file, args.includes('--protocol-guest') ? 'protocol' : 'stock');
    if (ready) {
      ready.stdin.write(message);
      const t = transport(ready, true);
      void t.done.then(replaceSpare);
      return t;
    }
    const t = transport(start(file, args, argv0, env), true);
    void t.done.then(replaceSpare);
    return t;
  }
  return transport(start(file, args, argv0, env, supervised), supervised);
}
