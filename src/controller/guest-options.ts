import { OptionError, type ControllerOptions } from './options.js';

/**
 * Options that only one kind of guest can honour. A sandboxed PyPy asks the controller for
 * everything (time, process ids, its argv[0] and library); a stock interpreter under the supervisor
 * gets the time from the kernel's vDSO, its process ids from the kernel, runs as its own path with
 * its own library, and only makes the system calls of the supervisor's table. An option the chosen
 * guest would silently ignore is refused before the run starts, naming the option and why.
 */
export function checkOptionsForGuest(
  o: ControllerOptions,
  kind: 'sandboxed-pypy' | 'stock',
  stockSignatures: ReadonlySet<string>,
): void {
  if (kind === 'stock') checkStock(o, stockSignatures);
  else checkSandboxed(o);
}

const FOR_SANDBOXED = 'only a sandboxed PyPy (executable) asks the controller for it';

function checkStock(o: ControllerOptions, signatures: ReadonlySet<string>): void {
  if (o.clock !== undefined && o.clock !== 'real') {
    throw new OptionError(
      'clock',
      `a stock interpreter reads the time from the kernel (the vDSO), never from the controller: a fixed clock cannot be shown to it (${FOR_SANDBOXED})`,
    );
  }
  for (const id of ['pid', 'ppid'] as const) {
    if (o.identity?.[id] !== undefined) {
      throw new OptionError(
        `identity.${id}`,
        `a stock interpreter gets its process ids from the kernel (pid 2 in a PID namespace of its own): only uid, gid, euid, egid and hostname apply to it (${FOR_SANDBOXED})`,
      );
    }
  }
  if (o.argv0 !== undefined)
    throw new OptionError(
      'argv0',
      `a stock interpreter runs as its own path (its argv[0] finds its library) (${FOR_SANDBOXED})`,
    );
  if (o.libPath !== undefined)
    throw new OptionError(
      'libPath',
      `a stock interpreter uses its own installed library, granted read-only at its own paths (a PyPy tree is for a sandboxed PyPy, executable)`,
    );
  if (o.unknownCalls === 'fail') {
    throw new OptionError(
      'unknownCalls',
      "a stock interpreter's system calls outside the supervisor's table are refused with ENOSYS by its filter and never reach the controller: 'fail' cannot apply",
    );
  }
  for (const sig of Object.keys(o.handlers ?? {})) {
    if (!signatures.has(sig))
      throw new OptionError(
        `handlers['${sig}']`,
        "a stock interpreter never makes this call: the supervisor forwards only the system calls of its table (see supportedSignatures() of a stock guest's Controller)",
      );
  }
}

function checkSandboxed(o: ControllerOptions): void {
  if (o.localAnswers === true && o.walls === false) {
    throw new OptionError(
      'localAnswers',
      'a sandboxed PyPy without walls has no supervisor to answer calls: every call goes to the controller',
    );
  }
}
