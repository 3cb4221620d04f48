import fs from 'node:fs';
import path from 'node:path';

/** Where the directory of a script given by its host path is shown, read-only. */
export const SCRIPT_DIR = '/app';

/** A script named on the command line by its host path, and how the guest is to see it. */
export interface HostScript {
  /** Its position among the guest's arguments. */
  index: number;
  /** The host directory holding it (symlinks resolved). */
  hostDir: string;
  /** The path the guest runs it as: SCRIPT_DIR/name. */
  vpath: string;
  /** Names of that directory the guest sees: Python sources (sibling modules, packages) and the script. */
  include: string[];
}

/**
 * The position of the script among an interpreter's arguments, as CPython and PyPy read them:
 * the first argument that is no option, unless `-c` or `-m` (or `-`) ends the options first.
 */
function scriptIndex(args: readonly string[]): number | undefined {
  for (let k = 0; k < args.length; k++) {
    const a = args[k]!;
    if (a === '-') return undefined;
    if (a === '--') return k + 1 < args.length ? k + 1 : undefined;
    if (!a.startsWith('-')) return k;
    if (a.startsWith('--')) {
      if (a === '--check-hash-based-pycs') k++;
      continue;
    }
    const flags = a.slice(1);
    for (let j = 0; j < flags.length; j++) {
      const f = flags[j]!;
      if (f === 'c' || f === 'm') return undefined;
      if (f === 'W' || f === 'X') {
        if (j === flags.length - 1) k++; // the value is the next argument
        break;
      }
    }
  }
  return undefined;
}

/**
 * The script the guest is to run, when it is named by a host path (`report.py`, `../x.py`,
 * `/home/me/x.py`) that the guest could not open as it stands. Left alone: a name the guest sees
 * already, inside the `--tmp` directory (the virtual cwd) or a read grant.
 */
export function hostScript(
  args: readonly string[],
  seen: { tmpDir?: string; granted: (hostPath: string) => boolean },
): HostScript | undefined {
  const index = scriptIndex(args);
  if (index === undefined) return undefined;
  const given = args[index]!;
  if (seen.tmpDir !== undefined) {
    const inTmp = given.startsWith('/tmp/') ? given.slice('/tmp/'.length) : path.isAbsolute(given) ? undefined : given;
    if (inTmp !== undefined && fs.existsSync(path.join(seen.tmpDir, inTmp))) return undefined;
  }
  let real: string;
  try {
    real = fs.realpathSync(given);
    if (!fs.statSync(real).isFile()) return undefined;
  } catch {
    return undefined;
  }
  if (path.isAbsolute(given) && seen.granted(given)) return undefined;
  const name = path.basename(real);
  const include = ['**/*.py'];
  if (!name.endsWith('.py')) include.push(name.replace(/[\\*?[\]{}()!+@|]/g, '\\$&'));
  return { index, hostDir: path.dirname(real), vpath: `${SCRIPT_DIR}/${name}`, include };
}
