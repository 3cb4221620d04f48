import fs from 'node:fs';
import path from 'node:path';
import { findInterpreter } from '../src/guest/profile.js';
import { ROOT } from './helpers.js';

/** Stock interpreters on this host (each skipped with a message where absent). */
export const STOCK = ['pypy3', 'python3'].map((name) => ({ name, path: findInterpreter(name) }));
for (const s of STOCK)
  if (!s.path) console.warn(`session tests: no ${s.name} on this host: its session tests are skipped`);

/** The real sandboxed PyPy builds (unpacked by the global setup). */
const BUILDS = path.join(ROOT, 'build/pypy-sandbox');
export const SANDBOXED = [
  { name: 'PyPy 2.7', dir: path.join(BUILDS, 'pypy2.7-sandbox'), binary: 'pypy-c' },
  { name: 'PyPy 3.6', dir: path.join(BUILDS, 'pypy3.6-sandbox'), binary: 'pypy3-c' },
].map((p) => ({ ...p, exe: path.join(p.dir, p.binary), present: fs.existsSync(path.join(p.dir, p.binary)) }));
for (const p of SANDBOXED)
  if (!p.present)
    console.warn(
      `session tests: ${p.exe} is missing (the archives of ../shared/pypy-sandbox): its session tests are skipped`,
    );

/**
 * A number no other run uses, given as the session's maxAnswerBytes: it is on the guest's
 * command line, so the processes of one session can be found in /proc.
 */
export function marker(): number {
  return 4_000_000 + Math.floor(Math.random() * 4_000_000);
}

/** Processes (other than this one) whose command line holds the marker as a word. */
export function processesWith(mark: number): number[] {
  const out: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').includes(String(mark))) out.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return out;
}

/** Waits (a little) until no process of the session is left; the pids still there. */
export async function leftOver(mark: number): Promise<number[]> {
  for (let i = 0; i < 50; i++) {
    const left = processesWith(mark);
    if (left.length === 0) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
  return processesWith(mark);
}
