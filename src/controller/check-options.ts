import { Readable } from 'node:stream';
import { tmpFileParts } from '../vfs/tmp-files.js';
import { limitsFromOptions, type Limits } from './limits/defaults.js';
import { OptionError, nonNegInt } from './option-error.js';
import { KNOWN_OPTIONS, type ControllerOptions, type IdentityRange } from './options.js';

/** Neither root (0) nor (uid_t)-1 in the range, and every id within 32 bits. */
function checkIdentityRange(r: IdentityRange): void {
  if (!r || typeof r !== 'object') throw new OptionError('identityRange', 'expected { first, count, lockFile? }');
  if ((r.first === undefined) !== (r.count === undefined))
    throw new OptionError('identityRange', 'give first and count together');
  if (r.first !== undefined) {
    const first = nonNegInt(r.first, 'identityRange.first');
    const count = nonNegInt(r.count, 'identityRange.count');
    if (first < 1) throw new OptionError('identityRange.first', 'must be at least 1 (uid 0 is root)');
    if (count < 1) throw new OptionError('identityRange.count', 'must be at least 1');
    if (first + count - 1 >= 0xffffffff)
      throw new OptionError('identityRange', 'the range must end below 4294967295 ((uid_t)-1)');
  }
  if (
    r.lockFile !== undefined &&
    (typeof r.lockFile !== 'string' || !r.lockFile.startsWith('/') || r.lockFile.includes('\0'))
  ) {
    throw new OptionError('identityRange.lockFile', 'expected an absolute host path');
  }
}

/** Edit distance (insertions, deletions, substitutions, adjacent swaps), case-insensitive. */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known name closest to a misspelled one, when it is close enough to be meant. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const dist = distance(name, k);
    if (dist < bestD) [best, bestD] = [k, dist];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

const STREAM_CHOICES = "'capture', 'inherit', 'ignore', a Writable stream or a function (data: Buffer) => void";

function isWritable(v: unknown): boolean {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { write?: unknown }).write === 'function' &&
    typeof (v as { on?: unknown }).on === 'function'
  );
}

function checkOutput(v: unknown, name: 'stdout' | 'stderr'): void {
  if (
    v === undefined ||
    v === 'capture' ||
    v === 'inherit' ||
    v === 'ignore' ||
    typeof v === 'function' ||
    isWritable(v)
  )
    return;
  throw new OptionError(name, `expected ${STREAM_CHOICES}, got ${describeValue(v)}`);
}

function checkInput(v: unknown): void {
  if (v === undefined || v === 'inherit' || v === 'ignore' || typeof v === 'string' || Buffer.isBuffer(v)) return;
  if (v instanceof Readable) return;
  throw new OptionError(
    'stdin',
    `expected a Buffer, a string (the input itself), a Readable stream, 'inherit' or 'ignore', got ${describeValue(v)}`,
  );
}

function describeValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v === null || typeof v !== 'object') return String(v);
  return `an object (${(v as object).constructor?.name ?? 'no class'})`;
}

/** Validates options once, up front; every message names the option. */
export function normalizeOptions(o: ControllerOptions): ControllerOptions & { limits: Limits } {
  if (!o || typeof o !== 'object') throw new OptionError('options', 'expected an object');
  for (const k of Object.keys(o)) {
    if ((KNOWN_OPTIONS as readonly string[]).includes(k)) continue;
    const near = closest(k, KNOWN_OPTIONS);
    throw new OptionError(k, `unknown option${near ? ` (did you mean ${near}?)` : ''}`);
  }
  if (o.clock !== undefined && o.clock !== 'real') {
    const fixed = typeof o.clock === 'object' && o.clock !== null ? (o.clock as { fixed?: unknown }).fixed : undefined;
    if (fixed === undefined)
      throw new OptionError('clock', `expected 'real' or { fixed: date }, got ${describeValue(o.clock)}`);
    if (!['number', 'string'].includes(typeof fixed) && !(fixed instanceof Date))
      throw new OptionError(
        'clock.fixed',
        `expected a Date, a date string or milliseconds, got ${describeValue(fixed)}`,
      );
    if (Number.isNaN(new Date(fixed as string).getTime()))
      throw new OptionError('clock.fixed', `not a date: ${String(fixed)}`);
  }
  checkInput(o.stdin);
  checkOutput(o.stdout, 'stdout');
  checkOutput(o.stderr, 'stderr');
  if (o.guestStderr !== undefined && !isWritable(o.guestStderr))
    throw new OptionError('guestStderr', `expected a Writable stream, got ${describeValue(o.guestStderr)}`);
  if (o.executable !== undefined && (typeof o.executable !== 'string' || o.executable === ''))
    throw new OptionError('executable', 'expected the host path of the guest binary');
  if (o.python !== undefined && (typeof o.python !== 'string' || o.python === ''))
    throw new OptionError('python', "expected 'pypy3', 'python3' or the path of an interpreter");
  if (o.executable !== undefined && o.python !== undefined)
    throw new OptionError(
      'python',
      'give either executable (a sandboxed PyPy) or python (a stock interpreter), not both',
    );
  if (o.args !== undefined && (!Array.isArray(o.args) || o.args.some((a) => typeof a !== 'string')))
    throw new OptionError('args', 'expected an array of strings');
  if (o.argv0 !== undefined && (typeof o.argv0 !== 'string' || o.argv0 === ''))
    throw new OptionError('argv0', 'expected a non-empty string');
  if (o.cwd !== undefined && (typeof o.cwd !== 'string' || !o.cwd.startsWith('/')))
    throw new OptionError('cwd', 'expected an absolute virtual path');
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (k === '' || k.includes('=') || k.includes('\0')) throw new OptionError(`env.${k}`, 'invalid variable name');
    if (typeof v !== 'string' || v.includes('\0')) throw new OptionError(`env.${k}`, 'expected a string without NUL');
  }
  if (o.unknownCalls !== undefined && o.unknownCalls !== 'enosys' && o.unknownCalls !== 'fail')
    throw new OptionError('unknownCalls', "expected 'enosys' or 'fail'");
  if (o.transport !== undefined && typeof o.transport !== 'function')
    throw new OptionError('transport', 'expected a function returning the guest streams');
  if (o.localAnswers !== undefined && typeof o.localAnswers !== 'boolean')
    throw new OptionError('localAnswers', 'expected true or false');
  if (o.spareSupervisor !== undefined && typeof o.spareSupervisor !== 'boolean')
    throw new OptionError('spareSupervisor', 'expected true or false');
  if (o.walls !== undefined && typeof o.walls !== 'boolean') {
    if (typeof o.walls !== 'object' || o.walls === null)
      throw new OptionError('walls', 'expected false, true or an object');
    for (const [k, v] of Object.entries(o.walls)) {
      if (!['seccomp', 'namespaces', 'dropRoot', 'cgroup'].includes(k))
        throw new OptionError(`walls.${k}`, 'unknown wall (expected seccomp, namespaces, dropRoot or cgroup)');
      if (v !== undefined && typeof v !== 'boolean') throw new OptionError(`walls.${k}`, 'expected true or false');
    }
  }
  if (o.identityRange !== undefined) checkIdentityRange(o.identityRange);
  if (o.vfs && (o.libPath || o.tmpDir || o.files || o.tmpFiles))
    throw new OptionError(
      'vfs',
      'give either a ready VirtualFS or libPath/tmpDir/files/tmpFiles, not both (mountTmp takes files of its own)',
    );
  checkTmpFiles(o.tmpFiles);
  const limits = limitsFromOptions(o);
  for (const [sig, h] of Object.entries(o.handlers ?? {})) {
    if (typeof h !== 'function') throw new OptionError(`handlers['${sig}']`, 'expected a function');
  }
  return { ...o, limits };
}

/** `tmpFiles`: relative names inside /tmp, each a string or a Buffer. */
function checkTmpFiles(files: ControllerOptions['tmpFiles']): void {
  if (files === undefined) return;
  if (typeof files !== 'object' || files === null || Array.isArray(files))
    throw new OptionError('tmpFiles', "expected an object of { 'name': string | Buffer }");
  for (const [name, data] of Object.entries(files)) {
    try {
      tmpFileParts(name);
    } catch (err) {
      throw new OptionError(`tmpFiles[${JSON.stringify(name)}]`, (err as Error).message);
    }
    if (typeof data !== 'string' && !Buffer.isBuffer(data))
      throw new OptionError(
        `tmpFiles[${JSON.stringify(name)}]`,
        `expected a string or a Buffer, got ${describeValue(data)}`,
      );
  }
}
