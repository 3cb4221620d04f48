import type { VirtualFS } from '../vfs/vfs.js';

/** What a running guest offers its owner while it runs: signals and its filesystem. */
export interface GuestHandle {
  /** The terminal's interrupt or quit for the guest (a supervisor passes it on as SIGINT or SIGQUIT). */
  interrupt(sig: 'SIGINT' | 'SIGQUIT'): void;
  /** The guest's filesystem, the one its calls are answered from. */
  vfs: VirtualFS;
}

/**
 * Reach into a run while it goes on (option `control`): a long-lived guest driven by its owner
 * (a session) interrupts it and changes its files between requests. Attached once the guest has
 * been started; `attached` settles then.
 */
export class GuestControl {
  private handle: GuestHandle | undefined;
  private resolveAttached!: (h: GuestHandle) => void;
  readonly attached = new Promise<GuestHandle>((resolve) => (this.resolveAttached = resolve));

  /** Called by the run when its guest has been started (a Controller run again attaches its new guest). */
  attach(handle: GuestHandle): void {
    this.handle = handle;
    this.resolveAttached(handle);
  }

  /** The guest's filesystem, once started. */
  get vfs(): VirtualFS | undefined {
    return this.handle?.vfs;
  }

  /** Sends the interrupt; false when the guest has not been started. */
  interrupt(sig: 'SIGINT' | 'SIGQUIT' = 'SIGINT'): boolean {
    if (!this.handle) return false;
    this.handle.interrupt(sig);
    return true;
  }
}
