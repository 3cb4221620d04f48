import { startChild, type Child } from './child.js';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { NoteReader } from '../supervisor/notes.js';
import { wordFrame } from '../supervisor/words.js';

/** How the controller reaches one guest: its standard streams, its end, and a way to kill it. */
export interface GuestTransport {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Notes from the supervisor (walls in force, limits hit), when there is one. */
  notes?: Readable;
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

// Guests never outlive the controller, without touching how the host reacts to signals: a
// `cleanup` of the signal-exit kind would add SIGINT/SIGTERM listeners that re-raise the signal when they think
// they are alone, killing a host whose own handler was registered with `once` or meant to shut down
// gracefully. Instead the supervisor has a parent-death signal, and a plain `exit` hook kills what
// is left when Node exits (however the host chose to exit): SIGTERM for a supervisor, which then
// ends its guest and removes the run's cgroup by itself, SIGKILL for a guest started without one.
const live = new Map<Child, NodeJS.Signals>();
let exitHook = false;

function killLeftovers(): void {
  for (const [c, sig] of live) {
    try {
      c.kill(sig);
    } catch {
      // already gone
    }
  }
  live.clear();
}

function track(child: Child, supervised: boolean): void {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', killLeftovers);
  }
  live.set(child, supervised ? 'SIGTERM' : 'SIGKILL');
  const forget = () => void live.delete(child);
  child.once('exit', forget);
  child.once('error', forget);
}

function start(file: string, args: string[], argv0: string | undefined, env: Record<string, string>, supervised = true): Child {
  const child = startChild(file, args, argv0, env);
  // A guest that dies leaves EPIPE on its stdin: its end is reported, not the write error.
  child.stdin.on('error', () => undefined);
  track(child, supervised);
  return child;
}

/** `exit STATUS` on the notes and the end of every stream: the supervisor's early word (end_early). */
function told(child: Child): Promise<GuestEnd> {
  return new Promise((resolve) => {
    const notes = child.stdio[3] as Readable;
    const open = new Set<Readable>([child.stdout, child.stderr, notes]);
    let status: number | undefined;
    const reader = new NoteReader();
    const check = () => {
      if (status === undefined || open.size > 0) return;
      const sig = status & 0x7f;
      if (sig === 0) resolve({ exitCode: (status >> 8) & 0xff });
      else resolve({ signal: Object.entries(os.constants.signals).find(([, n]) => n === sig)?.[0] ?? `signal ${sig}`, failed: true });
    };
    notes.on('data', (b: Buffer) => {
      try {
        for (const note of reader.add(b)) if (note.kind === 'exit') status = note.status;
      } catch {
        return; // malformed notes: the controller reads them too, and ends the run for them
      }
      check();
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

/** Supervisors that told their run's end and are still tearing down (see closeSpareSupervisor). */
const ending = new Set<Promise<unknown>>();

function transport(child: Child, supervised: boolean): GuestTransport {
  let early: Promise<GuestEnd> | undefined;
  if (supervised) {
    early = told(child);
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
export function spawnGuest(file: string, args: string[], argv0: string | undefined, env: Record<string, string>, supervised = false, useSpare = true): GuestTransport {
  if (supervised && argv0 === undefined && useSpare) {
    supervisedStarts++;
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

// ---- the spare supervisor ----
//
// Starting a process from Node costs about 2 ms of the event loop (more with a large heap), and the
// supervisor's own start a little more. A program that runs guests one after another therefore
// keeps one supervisor started ahead (`--standby`): it waits, idle, for the run's arguments and
// environment on its stdin, then goes on exactly as a freshly started one would. There is at most
// one; it is only kept once a process has started a second supervised guest (a single run, as
// from the command line, leaves none behind), it does not keep Node's event loop alive, it ends
// after SPARE_IDLE_MS unused or when Node ends (its stdin closes), and closeSpareSupervisor()
// ends it at once. `spareSupervisor: false` in the options keeps a run away from it.

const SPARE_IDLE_MS = 30_000;
/** A stock guest's spare has its child started too (default walls), waiting behind the filter. */
type SpareKind = 'stock' | 'protocol';
let spare: { file: string; kind: SpareKind; child: Child; timer: NodeJS.Timeout } | undefined;
let spareFile: string | undefined;
let spareKind: SpareKind = 'stock';
let supervisedStarts = 0;
let replacing = false;

/** A spare's start message: the number of arguments, the arguments, then the environment. */
function startMessage(args: string[], env: Record<string, string>): Buffer {
  return wordFrame([String(args.length), ...args, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)]);
}

/** Streams and process of an idle spare must not keep the host's event loop alive. */
function setRef(child: Child, on: boolean): void {
  for (const s of [child.stdin, child.stdout, child.stderr, child.stdio[3]] as unknown as { ref?(): void; unref?(): void }[]) {
    if (on) s?.ref?.();
    else s?.unref?.();
  }
  if (on) child.ref();
  else child.unref();
}

function takeSpare(file: string, kind: SpareKind): Child | undefined {
  spareFile = file;
  spareKind = kind;
  const s = spare;
  spare = undefined;
  if (!s) return undefined;
  clearTimeout(s.timer);
  if (s.file !== file || s.kind !== kind || s.child.exitCode !== null || s.child.signalCode !== null || s.child.killed) {
    s.child.kill('SIGKILL');
    return undefined;
  }
  setRef(s.child, true);
  return s.child;
}

/** After a supervised run: have a spare ready for the next one (from the second run on). */
function replaceSpare(): void {
  if (spare || replacing || supervisedStarts < 2 || !spareFile) return;
  replacing = true;
  // After the run's own completion has been handled: the caller gets its result first.
  setImmediate(() => {
    replacing = false;
    if (spare || !spareFile || supervisedStarts < 2) return;
    let child: Child;
    try {
      child = start(spareFile, ['--standby', spareKind], undefined, {});
    } catch {
      return;
    }
    setRef(child, false);
    const timer = setTimeout(() => void closeSpareSupervisor(), SPARE_IDLE_MS);
    timer.unref();
    spare = { file: spareFile, kind: spareKind, child, timer };
    void child.ended.then(() => {
      if (spare?.child === child) {
        clearTimeout(spare.timer);
        spare = undefined;
      }
    });
  });
}

/**
 * Ends the spare supervisor kept for the next supervised run, if there is one, and waits until no
 * supervisor process is left: also those whose run has already ended, still tearing down their
 * guest's namespaces (a few milliseconds). For programs that check their child processes, or
 * shut down.
 */
export async function closeSpareSupervisor(): Promise<void> {
  const s = spare;
  spare = undefined;
  supervisedStarts = 0;
  if (s) {
    clearTimeout(s.timer);
    setRef(s.child, true); // the caller waits for it: it keeps the event loop alive until it has gone
    s.child.stdin.end(); // end of input before a start message: the spare exits quietly
    await s.child.ended;
  }
  await Promise.all([...ending]);
}
