/**
 * 64-bit words without loss. A signed integer that fits in a JS number (|v| <= 2^53 - 1) is a
 * number, anything wider a bigint; pointers are always bigint so they never pass through a double.
 */
export type Int = number | bigint;
export type Ptr = bigint;

const TWO32 = 0x1_0000_0000;

export function readInt(buf: Buffer, off: number): Int {
  const lo = buf.readUInt32LE(off);
  const hi = buf.readInt32LE(off + 4);
  // hi in [-2^21, 2^21) keeps the value inside the safe-integer range.
  if (hi >= -0x200000 && hi < 0x200000) return hi * TWO32 + lo;
  return buf.readBigInt64LE(off);
}

export function readPtr(buf: Buffer, off: number): Ptr {
  return buf.readBigUInt64LE(off);
}

export function writeInt(buf: Buffer, off: number, v: Int): void {
  if (typeof v === 'bigint') {
    buf.writeBigUInt64LE(BigInt.asUintN(64, v), off);
  } else if (Number.isSafeInteger(v)) {
    const lo = v >>> 0; // low 32 bits of the two's complement
    const hi = Math.floor(v / TWO32);
    buf.writeUInt32LE(lo, off);
    buf.writeInt32LE(hi | 0, off + 4);
  } else {
    throw new RangeError(`not an exact 64-bit integer: ${v}`);
  }
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export function writePtr(buf: Buffer, off: number, p: Ptr): void {
  // Guest addresses fit a double exactly: two 32-bit writes, cheaper than a BigInt write.
  if (p >= 0n && p <= MAX_SAFE) {
    const n = Number(p);
    buf.writeUInt32LE(n >>> 0, off);
    buf.writeUInt32LE(Math.floor(n / TWO32), off + 4);
    return;
  }
  buf.writeBigUInt64LE(BigInt.asUintN(64, p), off);
}
