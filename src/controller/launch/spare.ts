import fs from 'node:fs';
import { wordFrame } from '../../supervisor/words.js';
import { start, type Child } from './child.js';

/** Supervisors that told their run's end and are still tearing down (see closeSpareSupervisor). */
export const ending = new Set<Promise<unknown>>();

// The spare supervisor.
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

/** A supervised run is starting (a spare is kept from the second on). */
export function countSupervisedStart(): void {
  supervisedStarts++;
}
let replacing = false;

/** A spare's start message: the number of arguments, the arguments, then the environment. */
export function startMessage(args: string[], env: Record<string, string>): Buffer {
  return wordFrame([String(args.length), ...args, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)]);
}

/** Streams and process of an idle spare must not keep the host's event loop alive. */
function setRef(child: Child, on: boolean): void {
  for (const s of [child.stdin, child.stdout, child.stderr, child.stdio[3]] as unknown as {
    ref?(): void;
    unref?(): void;
  }[]) {
    if (on) s?.ref?.();
    else s?.unref?.();
  }
  if (on) child.ref();
  else child.unref();
}

/**
 * A spare that ended while idle (the OOM killer, an administrator's kill) may not be reaped yet:
 * Node learns of its end only when the event loop next runs. Its process says so at once.
 */
function hasEnded(pid: number | undefined): boolean {
  if (pid === undefined) return true;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return true;
  }
}

export function takeSpare(file: string, kind: SpareKind): Child | undefined {
  spareFile = file;
  spareKind = kind;
  const s = spare;
  spare = undefined;
  if (!s) return undefined;
  clearTimeout(s.timer);
  if (
    s.file !== file ||
    s.kind !== kind ||
    s.child.exitCode !== null ||
    s.child.signalCode !== null ||
    s.child.killed ||
    hasEnded(s.child.pid)
  ) {
    s.child.kill('SIGKILL');
    return undefined;
  }
  setRef(s.child, true);
  return s.child;
}

/** After a supervised run: have a spare ready for the next one (from the second run on). */
export function replaceSpare(): void {
  if (spare || replacing || supervisedStarts < 2 || !spareFile) return;
  replacing = true;
  // After the run's own completion has been handled: the caller gets its result first.
  setImmediate(() => {
    replacing = false;
    if (spare || !spareFile || supervisedStarts < 2) return;
    startSpareProcess(spareFile, spareKind);
  });
}

/**
 * A program about to make its one supervised run (the command line) has the supervisor started
 * now, while it still loads and reads its options: the supervisor sets up its guest's walls in
 * the meantime, and the run takes it as it would a spare. A run that cannot use it (other walls,
 * another kind) leaves it to end with the process, or after SPARE_IDLE_MS.
 */
export function startSpareAhead(file: string, kind: SpareKind): void {
  if (spare) return;
  spareFile = file;
  spareKind = kind;
  startSpareProcess(file, kind);
}

function startSpareProcess(file: string, kind: SpareKind): void {
  let child: Child;
  try {
    child = start(file, ['--standby', kind], undefined, {});
  } catch {
    return;
  }
  setRef(child, false);
  const timer = setTimeout(() => void closeSpareSupervisor(), SPARE_IDLE_MS);
  timer.unref();
  spare = { file, kind, child, timer };
  void child.ended.then(() => {
    if (spare?.child === child) {
      clearTimeout(spare.timer);
      spare = undefined;
    }
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

/**
 * Waits until every supervisor whose run has already ended has finished tearing its guest down
 * (the spare, if any, is left alone): for callers that end many runs at once and then check
 * their child processes, such as a pool closing.
 */
export async function supervisorsGone(): Promise<void> {
  await Promise.all([...ending]);
}
