import fs from 'node:fs';
import path from 'node:path';
import { constants as osConstants } from 'node:os';
import type { ControllerOptions, Limits } from '../controller/options.js';
import { LIBRARY_LIMITS, OptionError } from '../controller/options.js';
import { SandboxError, type RunResult } from '../controller/result.js';
import { about, EPILOG } from './about.js';
import { ExitCode } from './exit-codes.js';
import { hostScript, SCRIPT_DIR } from './script.js';
import { readTmpFiles } from './tmp-files.js';
import { guestWriter, printAll, styler } from './output.js';

// What a command needs is loaded when it runs (yargs, the controller, the trace reader): `--version`
// and `--help` load none of it, and each command only its own part.
const loadYargs = async () => (await import('yargs')).default;
const loadController = async () => (await import('../controller/controller.js')).Controller;
const loadPolicy = async () => ({
  ...(await import('../policy/spec.js')),
  Policy: (await import('../policy/policy.js')).Policy,
});
const loadCapabilities = () => import('./capabilities.js');

/** A command server's worker (src/server/worker.ts) loads what `interact` needs before its run is known. */
export async function prewarm(): Promise<void> {
  await Promise.all([
    loadYargs(),
    loadController(),
    loadPolicy(),
    import('../guest/profile.js'),
    import('../trace/format.js'),
  ]);
}

class UsageError extends Error {}
/** A bad policy file (PolicySpecError, told by its name: its module is only loaded when a policy is). */
const isPolicySpecError = (err: unknown): err is Error => err instanceof Error && err.name === 'PolicySpecError';
const isSessionUsageError = (err: unknown): err is Error => err instanceof Error && err.name === 'SessionUsageError';
/** The file given to check is missing or no executable (exit 127, as for interact). */
class CannotStart extends Error {}

/** Library options the command line sets from a flag: their errors name the flag. */
const FLAG_OF: Record<string, string> = {
  'limits.openFiles': '--max-open-files',
  'limits.openDirs': '--max-open-dirs',
  'limits.pathLength': '--max-path',
  'limits.tasks': '--max-tasks',
  'limits.ioChunkBytes': '--io-chunk',
  'limits.stallMs': '--stall-timeout',
  'limits.timeoutMs': '--timeout',
  'limits.heapBytes': '--heapsize',
  'limits.memoryBytes': '--memory',
  'limits.outputBytes': '--output-limit',
  'limits.stdinBytes': '--stdin-limit',
  'limits.tmpBytes': '--tmp-quota',
  'limits.cpuSeconds': '--cpu-limit',
  python: '--python',
  cwd: '--cwd',
  argv0: '--argv0',
  clock: '--clock',
  'clock.fixed': '--clock',
  libPath: '--lib-path',
  unknownCalls: '--unknown-calls',
  localAnswers: '--local-answers',
  tmpDir: '--tmp',
  traceFile: '--log',
  identityRange: '--uid-range',
  'identityRange.first': '--uid-range',
  'identityRange.count': '--uid-range',
  'identityRange.lockFile': '--uid-lock',
};

/** yargs' own complaints are usage errors; anything else thrown while parsing is passed on. */
function failure(msg: string | null, err: Error | undefined): never {
  if (err && err.name !== 'YError') throw err;
  throw new UsageError(msg ?? err?.message ?? 'bad command line');
}

/** A host file that is an ELF executable: the sandboxed-PyPy form of interact. */
async function isElfExecutable(p: string): Promise<boolean> {
  const { isElf } = await import('../guest/profile.js');
  try {
    return isElf(p) && (fs.statSync(p).mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** --uid-range FIRST:COUNT and --uid-lock FILE as the library's identityRange (checked there). */
function identityRangeOption(
  range: string | undefined,
  lockFile: string | undefined,
): Pick<ControllerOptions, 'identityRange'> {
  if (range === undefined && lockFile === undefined) return {};
  const m = range === undefined ? undefined : /^(\d+):(\d+)$/.exec(range);
  if (range !== undefined && !m) throw new UsageError(`--uid-range expects FIRST:COUNT, got ${JSON.stringify(range)}`);
  return {
    identityRange: {
      ...(m ? { first: Number(m[1]), count: Number(m[2]) } : {}),
      ...(lockFile !== undefined ? { lockFile } : {}),
    },
  };
}

/** The command line's limits where they differ from the library's (LIBRARY_LIMITS): more output for a terminal. */
const CLI_LIMITS: Limits = { ...LIBRARY_LIMITS, outputBytes: 64 * 1024 * 1024 };

/** A byte count as the size options take it: 1g, 64m, 8k or bytes. */
function sizeText(bytes: number): string {
  for (const [unit, size] of [
    ['g', 1 << 30],
    ['m', 1 << 20],
    ['k', 1 << 10],
  ] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/**
 * A list flag's values: repeated flags and comma-separated lists both add to it (`--allow-read
 * a,b --allow-read c`). Empty items (`a,,b`, a trailing comma) are left out.
 */
function commaList(values: string[] | undefined): string[] | undefined {
  return values?.flatMap((v) => String(v).split(',')).filter((v) => v !== '');
}

/** A parser of a flag's value whose errors are usage errors (exit 2, the message as it is). */
function usage<A extends unknown[], T>(fn: (...args: A) => T): (...args: A) => T {
  return (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  };
}

/** A numeric flag's value, checked here so the message names the flag (not the library option). */
function numberOption(v: string, flag: string, kind: 'count' | 'seconds'): number {
  const n = Number(v);
  if (
    kind === 'count'
      ? !/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n)
      : v.trim() === '' || !Number.isFinite(n) || n < 0
  ) {
    throw new UsageError(
      `${flag} expects ${kind === 'count' ? 'a whole number (0 or more)' : 'a number of seconds'}, got ${JSON.stringify(v)}`,
    );
  }
  return n;
}

/** --clock: 'real' or a date/time Date.parse reads. */
function clockOption(v: string | undefined): ControllerOptions['clock'] {
  if (v === undefined || v === 'real') return 'real';
  if (Number.isNaN(Date.parse(v)))
    throw new UsageError(
      `--clock expects 'real' or a date/time such as 2020-01-01T00:00:00Z, got ${JSON.stringify(v)}`,
    );
  return { fixed: v };
}

function interactParser(yargs: Awaited<ReturnType<typeof loadYargs>>, args: string[]) {
  return yargs(args)
    .scriptName('pypy-box interact')
    .usage(
      [
        'Usage: pypy-box interact [options] <executable> [guest args...]   a PyPy translated with --sandbox',
        '       pypy-box interact [options] [python args...]               a stock interpreter (pypy3, else python3)',
        '',
        'Runs Python with every operation that reaches the outside world decided by the controller.',
        'Everything after <executable> (or from the first argument that is not a pypy-box option) goes to',
        'the guest untouched, even when it looks like an option: pypy-box interact -c "print(6*7)".',
        'A first argument that is an ELF executable on the host is a sandboxed PyPy binary; anything else',
        '(-c, -m, a script path) is given to the stock interpreter. A script named by its host path',
        '(report.py, ../x.py) runs from its directory, shown read-only at /app (Python sources only).',
      ].join('\n'),
    )
    .option('python', {
      type: 'string',
      describe:
        'stock interpreter to run under the supervisor: pypy3, python3 or a path (default: pypy3, else python3)',
      requiresArg: true,
    })
    .parserConfiguration({ 'halt-at-non-option': true, 'unknown-options-as-args': true, 'populate--': false })
    .option('tmp', {
      type: 'string',
      describe: 'host directory shown read-only as the virtual cwd /tmp; guest writes go to memory',
      requiresArg: true,
    })
    .option('lib-path', {
      type: 'string',
      describe: 'host directory holding lib-python/ and lib_pypy/ (a PyPy tree), shown at /lib',
      requiresArg: true,
    })
    .option('heapsize', {
      type: 'string',
      describe:
        'heap cap for the guest, e.g. 512m (PyPy --heapsize for a sandboxed PyPy; a cap on resident memory and memfds for a stock interpreter)',
      requiresArg: true,
    })
    .option('cpu-limit', { type: 'string', describe: 'CPU seconds for the guest (RLIMIT_CPU)', requiresArg: true })
    .option('timeout', { type: 'string', describe: 'wall-clock limit in seconds', requiresArg: true })
    .option('stall-timeout', {
      type: 'string',
      describe:
        'seconds the guest may go without sending a byte in the middle of a message (a call, a reply it owes), or without reading an answer waiting for it, before it is killed as broken (default 5, 0 = wait forever)',
      requiresArg: true,
    })
    .option('log', {
      type: 'string',
      describe: 'write a msgpack trace of every call to FILE (read it with "pypy-box trace FILE")',
      requiresArg: true,
    })
    .option('verbose', {
      alias: 'v',
      type: 'boolean',
      describe: 'print one line per call on stderr, with the policy reason',
    })
    .option('debug', {
      type: 'boolean',
      describe: "check the binary's capability dump first; refuse it if it declares calls the controller lacks",
    })
    .option('nocolor', { type: 'boolean', describe: 'no colors in controller output' })
    .option('raw-stdout', {
      type: 'boolean',
      describe:
        "pass the guest's output to the terminal untouched (default: control characters are escaped, except at an interactive prompt)",
    })
    .option('allow-read', {
      type: 'string',
      array: true,
      nargs: 1,
      coerce: commaList,
      describe:
        'grant read-only access to host files or directories, shown at the same paths (repeatable, or a comma-separated list)',
      requiresArg: true,
    })
    .option('tmp-file', {
      type: 'string',
      array: true,
      nargs: 1,
      coerce: commaList,
      describe:
        "copy a host file into the writable /tmp before the run: [NAME=]HOSTPATH, NAME relative to /tmp (default: the file's name); the guest may change it, the host file is only read (repeatable, or a comma-separated list)",
      requiresArg: true,
    })
    .option('export', {
      type: 'string',
      array: true,
      nargs: 1,
      coerce: commaList,
      describe:
        'after the run, copy the regular files and directories under a virtual directory to a host directory: VPATH:HOSTDIR (made if missing; symlinks and special files are left out and reported; existing files refused unless --overwrite) (repeatable, or a comma-separated list)',
      requiresArg: true,
    })
    .option('export-tmp', {
      type: 'string',
      describe: 'after the run, copy what is in the virtual /tmp to DIR (same as --export /tmp:DIR)',
      requiresArg: true,
    })
    .option('overwrite', {
      type: 'boolean',
      describe: 'let --export replace regular files already in the target directory (never symlinks)',
    })
    .option('policy', { type: 'string', describe: 'JSON policy file (allowRead, rules, tmp, env)', requiresArg: true })
    .option('env', {
      type: 'string',
      array: true,
      nargs: 1,
      describe: 'set NAME=VALUE in the virtual environment (repeatable)',
      requiresArg: true,
    })
    .option('cwd', { type: 'string', describe: 'virtual working directory (default /tmp)', requiresArg: true })
    .option('argv0', { type: 'string', describe: "the guest's virtual argv[0] (default /lib/pypy)", requiresArg: true })
    .option('memory', {
      type: 'string',
      describe: `memory cap for everything the guest makes the kernel hold (heap, memfds, page cache): the run's cgroup where the host allows it, else rlimits and polling; 0 for none (default ${sizeText(CLI_LIMITS.memoryBytes)})`,
      requiresArg: true,
    })
    .option('max-tasks', {
      type: 'string',
      describe: `threads and processes of the guest at once (cgroup task cap, else RLIMIT_NPROC); 0 for none (default ${CLI_LIMITS.tasks})`,
      requiresArg: true,
    })
    .option('cgroup', {
      type: 'boolean',
      describe:
        "--cgroup: require the run's cgroup (no start without it); --no-cgroup: rlimits and polling instead (default: a cgroup where the host allows it)",
    })
    .option('output-limit', {
      type: 'string',
      describe: `stop the guest after this much stdout+stderr; 0 for unlimited (default ${sizeText(CLI_LIMITS.outputBytes)})`,
      requiresArg: true,
    })
    .option('stdin-limit', {
      type: 'string',
      describe: 'most bytes of stdin the guest may read (default unlimited)',
      requiresArg: true,
    })
    .option('tmp-quota', {
      type: 'string',
      describe: 'bytes the guest may store in /tmp (default 64m)',
      requiresArg: true,
    })
    .option('max-open-files', {
      type: 'string',
      describe: `descriptors open at once, every kind (files, pipes, memfds, eventfds, ...), stdio included (default ${CLI_LIMITS.openFiles})`,
      requiresArg: true,
    })
    .option('max-open-dirs', {
      type: 'string',
      describe: 'directory streams open at once (default 64)',
      requiresArg: true,
    })
    .option('max-path', {
      type: 'string',
      describe: 'longest path the guest may use, NUL included (default 4096)',
      requiresArg: true,
    })
    .option('io-chunk', { type: 'string', describe: 'most bytes moved by one call (default 1m)', requiresArg: true })
    .option('clock', {
      type: 'string',
      describe: "'real' (default) or a start date/time for a virtual clock, e.g. 2020-01-01T00:00:00Z",
      requiresArg: true,
    })
    .option('walls', {
      type: 'boolean',
      default: true,
      describe:
        "walls around the guest process; --no-walls (debugging) drops the seccomp wall of a sandboxed PyPy, namespaces and the run's own uid",
    })
    .option('namespaces', {
      type: 'boolean',
      describe:
        'new user/network/IPC/UTS/mount/PID namespaces: --namespaces requires them (no start without them), --no-namespaces for debugging (default: where the host allows them)',
    })
    .option('keep-uid', {
      type: 'boolean',
      describe: "debugging: keep the uid when started as root (default: run the guest as a uid of the run's own)",
    })
    .option('uid-range', {
      type: 'string',
      describe: 'host uids/gids runs may take when started as root, one per run: FIRST:COUNT (default 1000000:65536)',
      requiresArg: true,
    })
    .option('uid-lock', {
      type: 'string',
      describe:
        'the lock file where runs claim their uids (default /run/pypy-box/uids.lock); all runs of a range must share it',
      requiresArg: true,
    })
    .option('local-answers', {
      // No default here: said explicitly, it is passed on, and refused where nothing can answer.
      type: 'boolean',
      describe:
        "on by default. Stock interpreters: the supervisor answers stat/open/access of the interpreter's own read-only files itself and reports them; sandboxed PyPy behind its walls: it answers the clock, stat/access of the library and of granted trees, failing opens, readdir and reads of read-only host files, and sends other paths along with their calls; --no-local-answers sends every call to the controller",
    })
    .option('unknown-calls', {
      choices: ['enosys', 'fail'] as const,
      describe: 'a call no handler knows: answer ENOSYS (default) or stop the guest',
    })
    .help()
    .alias('h', 'help')
    .epilog(EPILOG)
    .wrap(null)
    .version(false)
    .strictOptions()
    .exitProcess(false)
    .fail(failure);
}

interface Io {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
}

async function interact(args: string[], io: Io): Promise<number> {
  const parser = interactParser(await loadYargs(), args);
  const opts = await parser.parse();
  if (opts.help) return 0;
  const rest = opts._.map(String);
  if (rest[0]?.startsWith('--') && !opts.python) throw new UsageError(`unknown option ${rest[0]}`);
  const sandboxed = opts.python === undefined && rest.length > 0 && (await isElfExecutable(rest[0]!));
  const executable = sandboxed ? rest[0] : undefined;
  const guestArgs = sandboxed ? rest.slice(1) : rest;
  (await import('./supervisor-ahead.js')).startSupervisorAhead(sandboxed, opts.walls !== false);
  const color = !opts.nocolor && !process.env.NO_COLOR && Boolean(io.stderr.isTTY);
  const st = styler(color);
  const say = (s: string) => io.stderr.write(`${st.cyan('[pypy-box]')} ${s}\n`);

  const { Policy, loadPolicyFile, policyFromSpec, parseSize } = await loadPolicy();
  const sizeOption = (v: unknown, name: string) => usage(parseSize)(v, name);
  const policy = new Policy();
  let env: Record<string, string> = {};
  let tmpQuota: number | undefined;
  let tmpDir = opts.tmp;
  if (opts.policy) {
    const spec = loadPolicyFile(opts.policy);
    policyFromSpec(spec, policy);
    env = { ...spec.env };
    if (spec.tmp?.quota !== undefined) tmpQuota = Number(spec.tmp.quota);
    if (spec.tmp?.from && !tmpDir) tmpDir = spec.tmp.from;
  }
  for (const p of opts['allow-read'] ?? []) {
    if (!fs.existsSync(p)) throw new UsageError(`--allow-read: ${p}: no such file or directory`);
    policy.allowRead(p, { reason: `read grant for ${p} (--allow-read)` });
  }
  // A script named by its host path runs from its directory, shown read-only at /app.
  const script = hostScript(guestArgs, {
    tmpDir,
    granted: (p) => policy.grants.some((g) => p === g.at || p.startsWith(`${g.at}/`)),
  });
  if (script) {
    guestArgs[script.index] = script.vpath;
    policy.allowRead(script.hostDir, {
      at: SCRIPT_DIR,
      include: script.include,
      dotfiles: false,
      reason: `the script's directory ${script.hostDir}, Python sources only, read-only at ${SCRIPT_DIR}`,
    });
  }
  const { exportSpec, runExports } = await import('./export.js');
  const exports = [
    ...(opts.export ?? []).map(usage(exportSpec)),
    ...(opts['export-tmp'] !== undefined ? [{ vpath: '/tmp', hostDir: path.resolve(opts['export-tmp']) }] : []),
  ];
  if (opts.overwrite && exports.length === 0)
    throw new UsageError('--overwrite only applies to --export or --export-tmp');
  for (const kv of opts.env ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--env expects NAME=VALUE, got ${JSON.stringify(kv)}`);
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const limits: Partial<Limits> = { outputBytes: CLI_LIMITS.outputBytes };
  if (opts.heapsize !== undefined) limits.heapBytes = sizeOption(opts.heapsize, '--heapsize');
  if (opts.memory !== undefined) limits.memoryBytes = sizeOption(opts.memory, '--memory');
  if (opts['max-tasks'] !== undefined) limits.tasks = numberOption(opts['max-tasks'], '--max-tasks', 'count');
  if (opts.timeout !== undefined) {
    const t = numberOption(opts.timeout, '--timeout', 'seconds');
    if (!(t > 0)) throw new UsageError('--timeout expects a positive number of seconds');
    limits.timeoutMs = Math.ceil(t * 1000);
  }
  if (opts['stall-timeout'] !== undefined)
    limits.stallMs = Math.ceil(numberOption(opts['stall-timeout'], '--stall-timeout', 'seconds') * 1000);
  if (opts['output-limit'] !== undefined) limits.outputBytes = sizeOption(opts['output-limit'], '--output-limit');
  if (opts['stdin-limit'] !== undefined) limits.stdinBytes = sizeOption(opts['stdin-limit'], '--stdin-limit');
  if (opts['tmp-quota'] !== undefined) tmpQuota = sizeOption(opts['tmp-quota'], '--tmp-quota');
  if (tmpQuota !== undefined) limits.tmpBytes = tmpQuota;
  const tmpFiles = opts['tmp-file']?.length
    ? usage(readTmpFiles)(opts['tmp-file'], tmpQuota ?? LIBRARY_LIMITS.tmpBytes)
    : undefined;
  if (opts['io-chunk'] !== undefined) limits.ioChunkBytes = sizeOption(opts['io-chunk'], '--io-chunk');
  if (opts['max-open-files'] !== undefined)
    limits.openFiles = numberOption(opts['max-open-files'], '--max-open-files', 'count');
  if (opts['max-open-dirs'] !== undefined)
    limits.openDirs = numberOption(opts['max-open-dirs'], '--max-open-dirs', 'count');
  if (opts['max-path'] !== undefined) limits.pathLength = numberOption(opts['max-path'], '--max-path', 'count');
  if (opts['cpu-limit'] !== undefined)
    limits.cpuSeconds = Math.ceil(numberOption(opts['cpu-limit'], '--cpu-limit', 'seconds'));

  // A prompt typed at by the user (no script, a terminal): its line editor needs escape sequences.
  const interactivePrompt = process.stdin.isTTY === true && guestArgs.length === 0;
  const raw = Boolean(opts['raw-stdout']) || interactivePrompt;
  if (!sandboxed && interactivePrompt) {
    // An interactive prompt: the terminal description lets the line editor work.
    if (env.TERM === undefined && process.env.TERM) env.TERM = process.env.TERM;
    for (const dir of ['/usr/share/terminfo', '/lib/terminfo', '/etc/terminfo']) {
      if (fs.existsSync(dir))
        policy.allowRead(dir, { reason: `terminal descriptions (${dir}) for the interactive prompt` });
    }
  }
  const controllerOpts: ControllerOptions = {
    executable,
    python: sandboxed ? undefined : opts.python,
    args: guestArgs,
    argv0: opts.argv0,
    env,
    cwd: opts.cwd,
    policy,
    libPath: opts['lib-path'],
    tmpDir,
    tmpFiles,
    limits,
    clock: clockOption(opts.clock),
    stdin: 'inherit',
    stdout: guestWriter(io.stdout, raw || !io.stdout.isTTY, null),
    stderr: guestWriter(io.stderr, raw || !io.stderr.isTTY, color && !interactivePrompt ? st.yellow : null),
    tty: { stdin: Boolean(process.stdin.isTTY), stdout: Boolean(io.stdout.isTTY), stderr: Boolean(io.stderr.isTTY) },
    traceFile: opts.log,
    walls:
      opts.walls === false
        ? false
        : {
            ...(opts.namespaces !== undefined ? { namespaces: opts.namespaces } : {}),
            dropRoot: !opts['keep-uid'],
            ...(opts.cgroup !== undefined ? { cgroup: opts.cgroup } : {}),
          },
    ...identityRangeOption(opts['uid-range'], opts['uid-lock']),
    localAnswers: opts['local-answers'],
    guestStderr: io.stderr,
    unknownCalls: opts['unknown-calls'],
  };
  const { formatCall } = await import('../trace/format.js');
  if (opts.verbose) controllerOpts.onCall = (rec) => io.stderr.write(`${st.dim('[sandbox]')} ${formatCall(rec)}\n`);
  const controllerAbort = new AbortController();
  controllerOpts.signal = controllerAbort.signal;
  const controller = new (await loadController())(controllerOpts);
  if (opts.verbose) {
    say(
      executable
        ? `guest: sandboxed PyPy ${executable}`
        : `guest: stock interpreter ${controller.interpreter()}${opts.python ? '' : ' (default: the system pypy3, else python3)'} under the native supervisor`,
    );
  }

  if (opts.debug && executable) {
    const { compareCapabilities, dumpCapabilities, notSandboxedPyPy, PROTOCOL_VERSION } = await loadCapabilities();
    let dump;
    try {
      dump = await dumpCapabilities(executable, undefined, opts.walls !== false);
    } catch (err) {
      io.stderr.write(`pypy-box: ${notSandboxedPyPy(executable, err as Error)}\n`);
      return ExitCode.unsupported;
    }
    const report = compareCapabilities(dump, controller.supportedSignatures());
    if (report.version !== PROTOCOL_VERSION)
      say(`warning: protocol version ${report.version}, this controller speaks ${PROTOCOL_VERSION}`);
    if (report.unsupported.length) {
      say(
        `refusing ${executable}: it declares ${report.unsupported.length} call(s) this controller does not implement: ${report.unsupported.join(' ')}`,
      );
      return ExitCode.unsupported;
    }
    say(`capability check passed: ${report.funcs.length} calls declared, all implemented`);
  }

  // Ctrl-C, SIGTERM or SIGHUP ends the guest, then pypy-box exits as a program killed by that signal
  // would report it (130, 143, 129). A reader that goes away (`| head`) ends the guest quietly, 141 as for SIGPIPE.
  let stoppedBy: NodeJS.Signals | undefined;
  const stop = (sig: NodeJS.Signals) => {
    stoppedBy ??= sig;
    controllerAbort.abort(new Error(sig === 'SIGPIPE' ? 'the output was closed' : `pypy-box got ${sig}`));
  };
  const onOutputError = (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED') stop('SIGPIPE');
    else controllerAbort.abort(err);
  };
  io.stdout.on('error', onOutputError);
  io.stderr.on('error', onOutputError);
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  process.once('SIGHUP', stop); // the terminal closed: the guest ended, the terminal's settings restored
  try {
    const result = await controller.run();
    if (stoppedBy === 'SIGPIPE') return ExitCode.signalBase + osConstants.signals.SIGPIPE;
    const code = report(result, Boolean(opts.verbose), say);
    const exported = runExports(result.vfs, exports, Boolean(opts.overwrite), say);
    return exported || code !== 0 ? code : ExitCode.exportFailed;
  } catch (err) {
    if (err instanceof SandboxError) {
      if (err.kind === 'aborted' && stoppedBy) {
        if (stoppedBy !== 'SIGPIPE') say(`guest stopped (${stoppedBy})`);
        return ExitCode.signalBase + osConstants.signals[stoppedBy];
      }
      say(st.red(err.message));
      if (opts.verbose) summary(err.result, say);
      runExports(err.result.vfs, exports, Boolean(opts.overwrite), say);
      return err.kind === 'spawn'
        ? ExitCode.cannotStart
        : err.kind === 'aborted'
          ? ExitCode.signalBase + osConstants.signals.SIGINT
          : ExitCode.sandboxError;
    }
    throw err;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    process.off('SIGHUP', stop);
  }
}

function summary(r: RunResult, say: (s: string) => void): void {
  say(
    `${r.calls} calls, ${r.denials} denied, ${r.durationMs.toFixed(0)} ms; walls: ${r.walls.length ? r.walls.join(', ') : 'none'}`,
  );
  for (const l of r.limitsReached) say(`limit ${l.name} (${l.value}) refused ${l.calls} call(s)`);
  const unknown = Object.entries(r.unknownCalls);
  if (unknown.length) say(`unimplemented calls answered ENOSYS: ${unknown.map(([s, n]) => `${s} x${n}`).join(', ')}`);
}

function report(r: RunResult, verbose: boolean, say: (s: string) => void): number {
  if (verbose) summary(r, say);
  if (r.outcome === 'timeout') {
    say(`timeout: guest stopped after ${r.limit?.value} ms`);
    return ExitCode.timeout;
  }
  if (r.outcome === 'limit') {
    say(`limit: guest stopped by the ${r.limit?.name} limit (${r.limit?.value})`);
    return ExitCode.limit;
  }
  if (r.outcome === 'signaled') {
    say(`guest died of ${r.signal} (${r.signalDescription})`);
    const num = r.signal ? osConstants.signals[r.signal] : undefined;
    return ExitCode.signalBase + (num ?? 0);
  }
  if (r.outcome === 'killed') return ExitCode.sandboxError;
  return r.exitCode ?? 0;
}

/** A command's whole output: 0, or 141 when its reader went away first (as for SIGPIPE; nothing said). */
async function printed(io: Io, text: string): Promise<number> {
  return (await printAll(io.stdout, text)) === 'closed' ? ExitCode.signalBase + osConstants.signals.SIGPIPE : 0;
}

/** A command with one positional argument and one boolean flag (check, trace). */
async function oneArgument(
  args: string[],
  command: string,
  arg: string,
  usage: string,
  flag: string,
  flagHelp: string,
) {
  const yargs = await loadYargs();
  return yargs(args)
    .scriptName(`pypy-box ${command}`)
    .usage(`Usage: pypy-box ${command} <${arg}>\n\n${usage}`)
    .option(flag, { type: 'boolean', describe: flagHelp })
    .demandCommand(1, 1, `missing <${arg}>`, `${command} takes one <${arg}>`)
    .wrap(null) // yargs' own wrapping breaks words in the middle
    .help()
    .alias('h', 'help')
    .version(false)
    .strict()
    .exitProcess(false)
    .fail(failure)
    .parse();
}

async function check(args: string[], io: Io): Promise<number> {
  const opts = await oneArgument(
    args,
    'check',
    'executable',
    "Runs the binary's capability dump (RPY_SANDBOX_DUMP) and compares the calls it declares with the ones this controller implements.",
    'json',
    'print the report as JSON',
  );
  if (opts.help) return 0;
  const executable = String(opts._[0]);
  let st: fs.Stats;
  try {
    st = fs.statSync(executable);
  } catch (err) {
    throw new CannotStart(
      `cannot start ${executable}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`,
    );
  }
  if (!st.isFile() || (st.mode & 0o111) === 0)
    throw new CannotStart(`cannot start ${executable}: not an executable file`);
  const { compareCapabilities, dumpCapabilities, notSandboxedPyPy, PROTOCOL_VERSION } = await loadCapabilities();
  const implemented = new (await loadController())({ executable }).supportedSignatures();
  let dump;
  try {
    dump = await dumpCapabilities(executable);
  } catch (err) {
    io.stderr.write(`pypy-box: ${notSandboxedPyPy(executable, err as Error)}\n`);
    return ExitCode.unsupported;
  }
  const report = compareCapabilities(dump, implemented);
  const text = opts.json
    ? JSON.stringify(report, null, 2) + '\n'
    : [
        `${executable}: protocol version ${report.version}${report.version === PROTOCOL_VERSION ? '' : ` (this controller speaks ${PROTOCOL_VERSION})`}, platform ${report.platform}\n`,
        `${report.funcs.length} calls declared, ${report.supported.length} implemented, ${report.unsupported.length} not implemented\n`,
        ...report.unsupported.map((f) => `  not implemented: ${f}\n`),
        report.unsupported.length
          ? 'result: unsupported (interact --debug would refuse this binary)\n'
          : 'result: ok\n',
      ].join('');
  const closed = await printed(io, text);
  if (closed) return closed;
  return report.unsupported.length || report.version !== PROTOCOL_VERSION ? ExitCode.unsupported : 0;
}

async function trace(args: string[], io: Io): Promise<number> {
  const opts = await oneArgument(
    args,
    'trace',
    'file',
    'Lists the calls of a trace written by "interact --log FILE" and summarises them per signature.',
    'summary',
    'print only the per-signature summary',
  );
  if (opts.help) return 0;
  const file = String(opts._[0]);
  const { formatTrace, readTrace } = await import('../trace/index.js');
  let entries;
  try {
    entries = readTrace(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(
      `cannot read ${file}: ${e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'a directory' : e.code === 'EACCES' ? 'permission denied' : `not a pypy-box trace (${e.message})`}`,
    );
  }
  const first = entries[0] as { type?: unknown; format?: unknown } | undefined;
  if (
    !Array.isArray(entries) ||
    !first ||
    typeof first !== 'object' ||
    first.type !== 'header' ||
    first.format !== 'pypy-box-trace'
  ) {
    throw new UsageError(`${file} is not a pypy-box trace (write one with "pypy-box interact --log FILE")`);
  }
  let text = formatTrace(entries);
  if (opts.summary) text = text.slice(text.indexOf('Summary by signature:'));
  return printed(io, text);
}

export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case 'interact':
        return await interact(rest, io);
      case 'check':
        return await check(rest, io);
      case 'trace':
        return await trace(rest, io);
      case 'session':
        // Loaded only here, like every command's own modules.
        return await (await import('./session.js')).serveSession(rest, { ...io, stdin: process.stdin });
      case 'server':
        return (await import('./server-command.js')).serverCommand(rest, io);
      case 'worker':
        // Loaded only here: BullMQ and ioredis add a fifth of a second to every start.
        return await (await import('./worker.js')).worker(rest, io);
      case undefined:
      case '--version':
      case '-V':
      case 'version':
      case '--help':
      case '-h':
      case 'help':
        return about(cmd, io.stdout);
      default:
        throw new UsageError(`unknown command ${JSON.stringify(cmd)}`);
    }
  } catch (err) {
    if (err instanceof CannotStart) {
      io.stderr.write(`pypy-box: ${err.message}\n`);
      return ExitCode.cannotStart;
    }
    if (err instanceof OptionError && cmd === 'interact' && FLAG_OF[err.option]) {
      err.message = `${FLAG_OF[err.option]}: ${err.message.slice(`option ${err.option}: `.length)}`;
    }
    if (err instanceof UsageError || isPolicySpecError(err) || isSessionUsageError(err) || err instanceof OptionError) {
      io.stderr.write(
        `pypy-box: ${err.message}\n(see pypy-box ${cmd && ['interact', 'check', 'trace', 'session'].includes(cmd) ? `${cmd} ` : ''}--help)\n`,
      );
      return ExitCode.usage;
    }
    io.stderr.write(`pypy-box: ${(err as Error).message ?? String(err)}\n`);
    return cmd === 'check' || cmd === 'interact' ? ExitCode.cannotStart : 1;
  }
}
