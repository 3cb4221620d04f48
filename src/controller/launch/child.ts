import { startChild, type Child } from './process.js';

export type { Child };

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

export function start(
  file: string,
  args: string[],
  argv0: string | undefined,
  env: Record<string, string>,
  supervised = true,
): Child {
  const child = startChild(file, args, argv0, env);
  // A guest that dies leaves EPIPE on its stdin: its end is reported, not the write error.
  child.stdin.on('error', () => undefined);
  track(child, supervised);
  return child;
}
