import { Errno, GuestErrno } from '../platform/index.js';

/**
 * Bytes a name costs in a writable tree, so a flood of empty files or directories also runs into
 * the quota (and the controller's memory for names stays within a small multiple of it).
 */
export const INODE_COST = 1024;

/** Byte budget of a writable in-memory tree. */
export class Quota {
  used = 0;
  constructor(readonly limit: number) {}

  get remaining(): number {
    return Math.max(0, this.limit - this.used);
  }

  charge(n: number, what: string): void {
    if (n <= 0) return;
    if (this.used + n > this.limit) {
      throw new GuestErrno(
        Errno.ENOSPC,
        `${what} needs ${n} bytes; ${this.remaining} of the ${this.limit}-byte quota left`,
        { name: 'tmp-quota', value: this.limit },
      );
    }
    this.used += n;
  }

  release(n: number): void {
    this.used = Math.max(0, this.used - Math.max(0, n));
  }
}
