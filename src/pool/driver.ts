/**
 * The small Python programs a pool's guests run (with `-c`), and the job header they read.
 *
 * A guest is started with one of them before any job exists, so the interpreter is up and behind
 * its walls when the job comes. The header is one JSON line on the guest's stdin (JSON escapes
 * every newline, so the line ends where the header does): the code, its name, argv and input
 * files. Anything after the line is the job's own stdin (fresh guests only).
 */
import { tmpFileParts } from '../vfs/tmp-files.js';

/**
 * What both drivers share: the job's input files written into the guest's /tmp, and the header's
 * text as the interpreter takes it. Python 2.7 and 3 alike (the sandboxed PyPy 2.7 build runs
 * them too): on 2.7 the header's strings (unicode from json) become UTF-8 str for argv and names,
 * and the code stays unicode unless it declares its own encoding (which 2.7 refuses in unicode).
 */
const SHARED = String.raw`def _pypy_box_write(files):
    import os, base64
    for name, data in files.items():
        if sys.version_info[0] == 2:
            name = name.encode('utf-8')
        path = os.path.join('/tmp', name)
        if not os.path.isdir(os.path.dirname(path)):
            os.makedirs(os.path.dirname(path))
        with open(path, 'wb') as f:
            f.write(base64.b64decode(data))
def _pypy_box_compile(head):
    code, name = head['code'], head['name']
    if sys.version_info[0] == 2:
        import re
        name = name.encode('utf-8')
        sys.argv[:] = [a.encode('utf-8') for a in head['argv']]
        if any(re.match(r'[ \t\f]*#.*?coding[:=]', l) for l in code.split('\n', 2)[:2]):
            code = code.encode('utf-8')
    else:
        sys.argv[:] = head['argv']
    return compile(code, name, 'exec')
def _pypy_box_main():
    # A module's own namespace, as a script's: PyPy optimises a module's globals, not a plain dict's
    # (code at the top level of a job ran many times slower), and __main__ is the job's, for pickle.
    main = type(sys)('__main__')
    main.__dict__['__builtins__'] = __builtins__
    sys.modules['__main__'] = main
    return main.__dict__
def _pypy_box_traceback():
    import traceback
    t, e, tb = sys.exc_info()
    traceback.print_exception(t, e, tb.tb_next)
`;

/** One job for a fresh guest: read the header, write the files, run the code, exit. */
export const ONE_SHOT_DRIVER = String.raw`import sys
${SHARED}def _pypy_box_job():
    import json
    head = json.loads(getattr(sys.stdin, 'buffer', sys.stdin).readline())
    _pypy_box_write(head['files'])
    return _pypy_box_compile(head)
_pypy_box_code = _pypy_box_job()
del _pypy_box_job
try:
    exec(_pypy_box_code, _pypy_box_main())
except SystemExit:
    raise
except BaseException:
    _pypy_box_traceback()
    sys.exit(1)
`;

/**
 * Jobs of one key, one after another, in one namespace kept between them. After each job the
 * driver writes an end line to stderr, with the job's nonce and exit status: the pool waits for
 * that line (stdout is flushed first, and the controller handles the guest's writes in order).
 * The job's own stdin is empty: the real one is the driver's channel.
 */
export const LOOP_DRIVER = String.raw`import sys
${SHARED}def _pypy_box_serve():
    import io, json, os
    channel = getattr(sys.stdin, 'buffer', sys.stdin)
    space = _pypy_box_main()
    while True:
        line = channel.readline()
        if not line:
            return
        head = json.loads(line)
        status = 0
        try:
            _pypy_box_write(head['files'])
            sys.stdin = io.StringIO()
            exec(_pypy_box_compile(head), space)
        except SystemExit as e:
            status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
            if not isinstance(e.code, int) and e.code is not None:
                sys.stderr.write('%s\n' % (e.code,))
        except BaseException:
            _pypy_box_traceback()
            status = 1
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            try:
                stream.flush()
            except Exception:
                pass
        os.write(2, ('\0pypy-box-end %s %d\n' % (head['nonce'], status & 255)).encode())
_pypy_box_serve()
`;

/** A job as the pool is given it. */
export interface Job {
  /** Python source to run as `__main__`. */
  code: string;
  /** Input files in the writable /tmp, by name relative to /tmp: text or bytes. */
  files?: Record<string, string | Buffer | Uint8Array>;
  /** `sys.argv[1:]` of the job (argv[0] is its name). */
  args?: string[];
  /** The job's stdin (fresh guests only; a keyed job's stdin is empty). */
  stdin?: string | Buffer;
  /** The name tracebacks show for the code (default `<job>`). */
  name?: string;
}

/** Checks a job up front (it comes from callers, maybe over a queue): its errors name the field. */
export function checkJob(job: unknown): asserts job is Job {
  if (!job || typeof job !== 'object')
    throw new TypeError('job: expected an object { code, files?, args?, stdin?, name? }');
  const j = job as Record<string, unknown>;
  if (typeof j.code !== 'string') throw new TypeError('job.code: expected Python source, a string');
  if (j.name !== undefined && (typeof j.name !== 'string' || j.name.includes('\0')))
    throw new TypeError('job.name: expected a string');
  if (j.args !== undefined && (!Array.isArray(j.args) || j.args.some((a) => typeof a !== 'string')))
    throw new TypeError('job.args: expected an array of strings');
  if (j.stdin !== undefined && typeof j.stdin !== 'string' && !Buffer.isBuffer(j.stdin))
    throw new TypeError('job.stdin: expected a string or a Buffer');
  if (j.files !== undefined) {
    if (!j.files || typeof j.files !== 'object' || Array.isArray(j.files))
      throw new TypeError('job.files: expected { name: text or bytes }');
    for (const [name, data] of Object.entries(j.files)) {
      try {
        tmpFileParts(name);
      } catch (err) {
        throw new TypeError(`job.files: ${(err as Error).message}`, { cause: err });
      }
      if (typeof data !== 'string' && !(data instanceof Uint8Array))
        throw new TypeError(`job.files[${JSON.stringify(name)}]: expected text or bytes`);
    }
  }
}

/** The header line the drivers read. */
export function jobHeader(job: Job, nonce = ''): Buffer {
  const files: Record<string, string> = {};
  for (const [name, data] of Object.entries(job.files ?? {})) files[name] = Buffer.from(data).toString('base64');
  const name = job.name ?? '<job>';
  return Buffer.from(JSON.stringify({ code: job.code, name, argv: [name, ...(job.args ?? [])], files, nonce }) + '\n');
}
