import { TraceWriter, type CallRecord, type TraceFooter, type TraceHeader } from '../../trace/trace.js';
import type { ControllerOptions } from '../options.js';
import { openTraceFile } from './trace-file.js';

/** Where a run's records go: the trace file (`traceFile`) and the caller's `onCall` hook. */
export class Recorder {
  private readonly trace: TraceWriter | undefined;
  /** Whether anyone reads call records (else none is made). */
  readonly on: boolean;

  constructor(
    private readonly o: Pick<ControllerOptions, 'traceFile' | 'onCall'>,
    /** When the run started (hrtime): records count their times from there. */
    readonly started: bigint,
  ) {
    this.trace = o.traceFile ? openTraceFile(o.traceFile) : undefined;
    this.on = this.trace !== undefined || o.onCall !== undefined;
  }

  header(h: Omit<TraceHeader, 'type' | 'format' | 'version' | 'started'>): void {
    this.trace?.write({
      type: 'header',
      format: 'pypy-box-trace',
      version: 1,
      started: new Date().toISOString(),
      ...h,
    });
  }

  call(rec: CallRecord): void {
    this.trace?.write(rec);
    this.hook(rec);
  }

  /** The last record; the trace file is closed. */
  footer(f: Omit<TraceFooter, 'type'>): void {
    this.trace?.write({ type: 'footer', ...f });
    this.trace?.close();
  }

  /** The caller's onCall hook: what it throws ends the run, named as the hook's. */
  private hook(rec: CallRecord): void {
    if (!this.o.onCall) return;
    try {
      this.o.onCall(rec);
    } catch (err) {
      throw new Error(`the onCall hook threw: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}
