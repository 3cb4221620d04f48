import fs from 'node:fs';
import yargs from 'yargs';
import type { Limits } from '../controller/options.js';
import { Policy } from '../policy/policy.js';
import { loadPolicyFile, parseSize, policyFromSpec } from '../policy/spec.js';
import { isElf } from '../guest/profile.js';
import { Session } from '../session/session.js';
import { SessionFileError } from '../session/files.js';
import { SessionClosedError, type SessionEnd, type SessionOptions } from '../session/types.js';
import { ExitCode } from './exit-codes.js';
import { LineReader } from './lines.js';

/** A request line longer than this is refused (and ends the command: the stream is out of step). */
const MAX_LINE = 64 * 1024 * 1024;

export class SessionUsageError extends Error {
  override readonly name = 'SessionUsageError';
}

function parser(args: string[]) {
  return yargs(args)
    .scriptName('pypy-box session')
    .usage(
      [
        'Usage: pypy-box session [options] [<executable>]',
        '',
        'Serves one session over stdin/stdout as JSON lines: one request per line,',
        '{"id": 1, "op": "run", "code": "x = 1\\nx + 1"}, one response per line with the same id.',
        'Ops: run {code, timeoutMs}, call {fn, args, kwargs, timeoutMs}, files.write {path, data, base64},',
        'files.read {path, base64}, files.list {path}, files.remove {path, recursive}, interrupt, close.',
        'The first line out is {"event": "ready", ...}; the last {"event": "ended", ...}.',
        'A first argument that is an ELF executable is a sandboxed PyPy (give --lib-path); else a stock',
        'interpreter (--python, default pypy3, else python3).',
      ].join('\n'),
    )
    .option('python', { type: 'string', describe: 'stock interpreter: pypy3, python3 or a path', requiresArg: true })
    .option('lib-path', {
      type: 'string',
      describe: 'a sandboxed PyPy: the tree holding lib-python/ and lib_pypy/',
      requiresArg: true,
    })
    .option('allow-read', {
      type: 'string',
      array: true,
      nargs: 1,
      describe: 'grant read-only access to a host file or directory (repeatable)',
      requiresArg: true,
    })
    .option('policy', { type: 'string', describe: 'JSON policy file (allowRead, rules, tmp, env)', requiresArg: true })
    .option('timeout', { type: 'number', describe: "the whole session's wall-clock limit, seconds", requiresArg: true })
    .option('snippet-timeout', {
      type: 'number',
      describe: "each snippet's timeout unless a request gives one, seconds (KeyboardInterrupt)",
      requiresArg: true,
    })
    .option('memory', { type: 'string', describe: 'memory cap (default 1g)', requiresArg: true })
    .option('heapsize', { type: 'string', describe: 'heap cap', requiresArg: true })
    .option('cpu-limit', { type: 'number', describe: 'CPU seconds of the whole session', requiresArg: true })
    .option('output-limit', {
      type: 'string',
      describe: "one snippet's stdout+stderr kept (default 1m; the rest dropped, outputTruncated)",
      requiresArg: true,
    })
    .option('max-answer', {
      type: 'string',
      describe: "largest answer the guest may send: a repr, a call's JSON (default 8m)",
      requiresArg: true,
    })
    .option('tmp-quota', {
      type: 'string',
      describe: 'bytes the session may store in /tmp (default 64m)',
      requiresArg: true,
    })
    .strictOptions()
    .help()
    .alias('h', 'help')
    .wrap(null)
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      if (err && err.name !== 'YError') throw err;
      throw new SessionUsageError(msg ?? err?.message ?? 'bad command line');
    });
}

/** The session's options from the command line. */
async function sessionOptions(args: string[]): Promise<SessionOptions | undefined> {
  const opts = await parser(args).parse();
  if (opts.help) return undefined;
  const rest = opts._.map(String);
  if (rest.length > 1 || (rest.length === 1 && !isElf(rest[0]!)))
    throw new SessionUsageError(`expected at most one argument, a sandboxed PyPy binary; got ${rest.join(' ')}`);
  const size = (v: string, flag: string) => {
    try {
      return parseSize(v, flag);
    } catch (err) {
      throw new SessionUsageError((err as Error).message);
    }
  };
  const policy = new Policy();
  let env: Record<string, string> | undefined;
  if (opts.policy) {
    const spec = loadPolicyFile(opts.policy);
    policyFromSpec(spec, policy);
    env = spec.env;
  }
  for (const p of opts['allow-read'] ?? []) {
    if (!fs.existsSync(p)) throw new SessionUsageError(`--allow-read: ${p}: no such file or directory`);
    policy.allowRead(p, { reason: `read grant for ${p} (--allow-read)` });
  }
  const limits: Partial<Limits> = {};
  if (opts.timeout !== undefined) limits.timeoutMs = Math.ceil(opts.timeout * 1000);
  if (opts.memory !== undefined) limits.memoryBytes = size(opts.memory, '--memory');
  if (opts.heapsize !== undefined) limits.heapBytes = size(opts.heapsize, '--heapsize');
  if (opts['cpu-limit'] !== undefined) limits.cpuSeconds = Math.ceil(opts['cpu-limit']);
  if (opts['output-limit'] !== undefined) limits.outputBytes = size(opts['output-limit'], '--output-limit');
  if (opts['tmp-quota'] !== undefined) limits.tmpBytes = size(opts['tmp-quota'], '--tmp-quota');
  for (const [k, v] of Object.entries(limits))
    if (!Number.isSafeInteger(v) || v < 0) throw new SessionUsageError(`--${k}: expected a non-negative number`);
  return {
    ...(rest[0] ? { executable: rest[0], libPath: opts['lib-path'] } : { python: opts.python }),
    policy,
    ...(env ? { env } : {}),
    limits,
    ...(opts['max-answer'] !== undefined ? { maxAnswerBytes: size(opts['max-answer'], '--max-answer') } : {}),
    ...(opts['snippet-timeout'] !== undefined ? { snippetTimeoutMs: Math.ceil(opts['snippet-timeout'] * 1000) } : {}),
  };
}

type Request = Record<string, unknown> & { id?: unknown; op?: unknown };

/** An end without the run's buffers and tree: what a JSON line carries. */
function endJson(end: SessionEnd | null | undefined) {
  if (!end) return null;
  return { reason: end.reason, message: end.message, limit: end.limit, exitCode: end.exitCode, signal: end.signal };
}

/** The exit code of a session that ended for `reason`. */
function exitCodeOf(end: SessionEnd): number {
  switch (end.reason) {
    case 'closed':
      return 0;
    case 'timeout':
      return ExitCode.timeout;
    case 'limit':
      return end.limit?.name === 'timeout' ? ExitCode.timeout : ExitCode.limit;
    case 'error':
      return ExitCode.cannotStart;
    default:
      return ExitCode.sandboxError;
  }
}

const str = (v: unknown, name: string): string => {
  if (typeof v !== 'string') throw new SessionFileError('EINVAL', `${name}: expected a string`);
  return v;
};
const optMs = (v: unknown): { timeoutMs?: number } => (v === undefined ? {} : { timeoutMs: v as number });

/** One request's answer (without its id). */
async function answer(s: Session, req: Request): Promise<Record<string, unknown>> {
  switch (req.op) {
    case 'run': {
      const r = await s.run(str(req.code, 'code'), optMs(req.timeoutMs));
      return { ...r, ended: endJson(r.ended) };
    }
    case 'call': {
      const r = await s.call(str(req.fn, 'fn'), (req.args ?? []) as unknown[], {
        ...optMs(req.timeoutMs),
        ...(req.kwargs ? { kwargs: req.kwargs as Record<string, unknown> } : {}),
      });
      return { ...r, ended: endJson(r.ended) };
    }
    case 'files.write':
      s.files.write(str(req.path, 'path'), Buffer.from(str(req.data, 'data'), req.base64 ? 'base64' : 'utf8'));
      return {};
    case 'files.read': {
      const data = s.files.read(str(req.path, 'path'));
      return { data: data.toString(req.base64 ? 'base64' : 'utf8') };
    }
    case 'files.list':
      return { entries: s.files.list(req.path === undefined ? '/tmp' : str(req.path, 'path')) };
    case 'files.remove':
      s.files.remove(str(req.path, 'path'), { recursive: req.recursive === true });
      return {};
    case 'interrupt':
      return { interrupted: s.interrupt() };
    case 'close':
      return { ended: endJson(await s.close()) };
    default:
      throw new SessionFileError(
        'EINVAL',
        `unknown op ${JSON.stringify(req.op)} (run, call, files.write, files.read, files.list, files.remove, interrupt, close)`,
      );
  }
}

/** `pypy-box session`: one session over JSON lines. */
export async function serveSession(
  args: string[],
  io: { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  const options = await sessionOptions(args);
  if (!options) return 0;
  const out = (o: object) => io.stdout.write(`${JSON.stringify(o)}\n`);
  let s: Session;
  try {
    s = await Session.start(options);
  } catch (err) {
    const end = err instanceof SessionClosedError ? err.end : undefined;
    out({ event: 'ended', ...(endJson(end) ?? { reason: 'error', message: (err as Error).message }) });
    return end ? exitCodeOf(end) : ExitCode.cannotStart;
  }
  out({ event: 'ready', ...s.info });
  const inFlight = new Set<Promise<void>>();
  let queue: Promise<unknown> = Promise.resolve();
  const handle = (line: string) => {
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
      if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new Error('a request is a JSON object');
    } catch (err) {
      out({ id: null, ok: false, error: { code: 'EINVAL', message: `not a JSON request: ${(err as Error).message}` } });
      return;
    }
    const id = req.id ?? null;
    // Requests are answered in the order given (a file op sent after a run sees what the run left);
    // only an interrupt goes ahead of the run it is for.
    const turn = req.op === 'interrupt' ? answer(s, req) : queue.then(() => answer(s, req));
    if (req.op !== 'interrupt') queue = turn.catch(() => undefined);
    const p = turn.then(
      (r) => void out({ id, ok: true, ...r }),
      (err: unknown) => {
        const code =
          err instanceof SessionFileError ? err.code : err instanceof SessionClosedError ? 'ENDED' : 'EINVAL';
        out({ id, ok: false, error: { code, message: (err as Error).message } });
      },
    );
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const lines = new LineReader(io.stdin, MAX_LINE);
  const ended = s.closed();
  for (;;) {
    const next = await Promise.race([lines.next(), ended.then(() => null)]);
    if (next === null || next === undefined) break;
    if (next instanceof Error) {
      out({ id: null, ok: false, error: { code: 'E2BIG', message: next.message } });
      break;
    }
    if (next.trim()) handle(next);
  }
  lines.close();
  await Promise.all([...inFlight]);
  const end = await s.close();
  out({ event: 'ended', ...endJson(end) });
  return exitCodeOf(end);
}
