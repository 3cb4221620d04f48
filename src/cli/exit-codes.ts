/** Exit codes of the `pypy-box` command. A guest that exits by itself passes its own code through. */
export const ExitCode = {
  /** The guest succeeded, and an --export was refused or failed (nothing of that export written when refused). */
  exportFailed: 1,
  /** Bad command line, bad option value, unreadable policy file. */
  usage: 2,
  /** `check`, `--debug`: the binary declares calls the controller does not implement, or gives no capability dump at all. */
  unsupported: 3,
  /** The wall-clock timeout ended the guest (as timeout(1) reports it). */
  timeout: 124,
  /** Another limit ended the guest (output, heap, CPU, stdin, ...). */
  limit: 125,
  /** The controller ended the guest: protocol violation, refused call, internal error. */
  sandboxError: 126,
  /** The guest binary could not be started (`check`: missing or not executable). */
  cannotStart: 127,
  /** Died of signal N: 128 + N (e.g. 139 for SIGSEGV, 134 for SIGABRT); also pypy-box's own SIGINT/SIGTERM (130/143) and a closed output (141). */
  signalBase: 128,
} as const;
