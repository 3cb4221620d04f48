/**
 * A guest's stdin that tells when the guest first reads it: the driver reads its job as soon as
 * its interpreter is up, so that first read means the guest is ready (started, behind its walls).
 */
import { PassThrough } from 'node:stream';

export class JobInput extends PassThrough {
  private firstRead: (() => void) | undefined;
  /** Settles at the guest's first read of its stdin. */
  readonly ready: Promise<void>;
  isReady = false;

  constructor() {
    super();
    this.ready = new Promise((resolve) => (this.firstRead = resolve));
  }

  // The controller calls read() without a size exactly when the guest reads fd 0; Node's own
  // calls (read(0), to prime the buffer) give one.
  override read(size?: number): ReturnType<PassThrough['read']> {
    if (size === undefined && this.firstRead) {
      this.isReady = true;
      this.firstRead();
      this.firstRead = undefined;
    }
    return super.read(size);
  }
}
