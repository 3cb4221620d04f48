import { Errno, GuestErrno } from '../platform/index.js';

/** Bytes a name costs in a writable tree, so a flood of empty files also runs into the quota. */
export const INODE_COST = 256;

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
      throw new GuestErrno(Errno.ENOSPC, `${what} needs ${n} bytes; ${this.remaining} of the ${this.limit}-byte quota left`, { name: 'tmp-quota', value: this.limit });
    }
    this.used += n;
  }

  release(n: number): void {
    this.used = Math.max(0, this.used - Math.max(0, n));
  }
}
