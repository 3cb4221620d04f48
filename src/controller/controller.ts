import { linuxHandlers } from '../handlers/linux/table.js';
import { defaultInterpreter, stockProfile, type StockProfile } from '../guest/profile.js';
import { handlerTable, type HandlerTable } from './dispatch/handler-table.js';
import { checkOptionsForGuest } from './guest-options.js';
import { normalizeOptions } from './check-options.js';
import type { ControllerOptions } from './options.js';
import { emptyResult } from './outcome/ending.js';
import { SandboxError, type RunResult } from './result.js';
import { Run } from './run.js';

/**
 * Runs one guest: launches it, answers its calls from the handler tables, the VFS and the policy,
 * enforces the limits, and reports what happened. One Controller may run several times; each run
 * gets a fresh session (descriptors, environment) and, unless a VFS was given, a fresh filesystem.
 * How one run goes, phase by phase: run.ts.
 */
export class Controller {
  readonly options: ReturnType<typeof normalizeOptions>;
  /** A PyPy translated with --sandbox speaks the protocol itself; a stock interpreter runs under the supervisor. */
  readonly guestKind: 'sandboxed-pypy' | 'stock';
  private readonly handlers: HandlerTable;

  constructor(options: ControllerOptions) {
    this.options = normalizeOptions(options);
    this.guestKind = this.options.executable !== undefined ? 'sandboxed-pypy' : 'stock';
    checkOptionsForGuest(this.options, this.guestKind, new Set(Object.keys(linuxHandlers)));
    this.handlers = handlerTable(this.guestKind, this.options.handlers);
  }

  /** The interpreter a stock guest runs (resolved from `python`, or the system default). */
  interpreter(): string | undefined {
    if (this.guestKind !== 'stock') return undefined;
    return this.options.python ?? defaultInterpreter();
  }

  /** The signatures this controller answers (for capability checks). */
  supportedSignatures(): string[] {
    return Object.keys(this.handlers.bySig).sort();
  }

  async run(): Promise<RunResult> {
    let stock: StockProfile | undefined;
    if (this.guestKind === 'stock') {
      try {
        stock = await stockProfile(this.interpreter()!);
      } catch (err) {
        throw new SandboxError(
          'spawn',
          `cannot prepare the stock interpreter: ${(err as Error).message}`,
          emptyResult(),
          { cause: err },
        );
      }
    }
    return new Run(this.options, this.handlers, stock).start();
  }
}
