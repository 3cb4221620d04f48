/**
 * CPU time of this process and of its descendants, for utilisation figures: a descendant's time
 * is added to its parent's when the parent reaps it, so once a run's supervisor has been reaped
 * its guest's time (reaped by the supervisor) is in this process's children's time too.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // USER_HZ on every Linux architecture the package installs on
    }
  }
  return ticksPerSecond;
}

/** Seconds of CPU (user + system) of this process, and of the descendants it has reaped. */
export function cpuSeconds(): { self: number; children: number } {
  const stat = fs.readFileSync('/proc/self/stat', 'utf8');
  // After "pid (comm) ": state is field 3, so utime..cstime (fields 14..17) are at 11..14 here.
  const f = stat
    .slice(stat.lastIndexOf(')') + 2)
    .split(' ')
    .map(Number);
  const hz = clockTicks();
  return { self: (f[11]! + f[12]!) / hz, children: (f[13]! + f[14]!) / hz };
}

export interface Utilisation {
  /** All CPU time over wall time, as a percentage of every core. */
  percent: number;
  /** The same for this process alone (the controller). */
  controllerPercent: number;
  /** And for its descendants (guests and their supervisors). */
  guestsPercent: number;
  wallSeconds: number;
}

/** Runs `work` (which must leave no descendant unreaped) and measures the CPU it kept busy. */
export async function measureUtilisation(cores: number, work: () => Promise<void>): Promise<Utilisation> {
  const c0 = cpuSeconds();
  const t0 = process.hrtime.bigint();
  await work();
  const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c1 = cpuSeconds();
  const pct = (s: number) => (100 * s) / (wallSeconds * cores);
  const self = c1.self - c0.self;
  const children = c1.children - c0.children;
  return {
    percent: pct(self + children),
    controllerPercent: pct(self),
    guestsPercent: pct(children),
    wallSeconds,
  };
}
