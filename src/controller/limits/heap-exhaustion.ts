/**
 * A sandboxed PyPy past its `--heapsize`: its GC prints this on the process's own stderr and
 * aborts (rpython/memory/gc). The controller cannot see the heap itself, so this message with
 * the SIGABRT is how the run is told apart from a crash and reported as the heap limit. Python
 * code cannot write to that stderr (its writes go through the protocol); an interpreter subverted
 * into forging it only misreports its own end.
 */
const PYPY_HEAP_MESSAGE = 'using too much memory, aborting';

/** Watches the guest's own stderr for the message, however the pipe cuts it into chunks. */
export class HeapExhaustion {
  private tail = '';
  private seen = false;

  see(chunk: Buffer): void {
    if (this.seen) return;
    this.tail = (this.tail + chunk.toString('latin1')).slice(-2 * PYPY_HEAP_MESSAGE.length);
    this.seen = this.tail.includes(PYPY_HEAP_MESSAGE);
  }

  /** Whether a guest that ended with signal died of its heap cap. */
  endedRun(signal: string | null): boolean {
    return this.seen && signal === 'SIGABRT';
  }
}
