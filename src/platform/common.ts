/** Layout pieces that are the same on every 64-bit Linux the project supports. */
const NS = 1_000_000_000n;

export function putTime(buf: Buffer, off: number, ns: bigint): void {
  buf.writeBigInt64LE(ns / NS, off);
  buf.writeBigInt64LE(ns % NS, off + 8);
}

export function encodeDirent64(ino: number, off: number, type: number, name: Buffer): Buffer {
  const b = Buffer.alloc(280);
  b.writeBigUInt64LE(BigInt(ino), 0);
  b.writeBigInt64LE(BigInt(off), 8);
  b.writeUInt16LE(280, 16);
  b[18] = type;
  name.copy(b, 19, 0, Math.min(name.length, 255));
  return b;
}

export function encodeUtsname(fields: readonly string[]): Buffer {
  const b = Buffer.alloc(65 * 6);
  fields.slice(0, 6).forEach((f, k) => Buffer.from(f, 'utf8').copy(b, 65 * k, 0, 64));
  return b;
}

export function encodeTimeval(sec: bigint, usec: bigint): Buffer {
  const b = Buffer.alloc(16);
  b.writeBigInt64LE(sec, 0);
  b.writeBigInt64LE(usec, 8);
  return b;
}

export const encodeTimespec = encodeTimeval;
