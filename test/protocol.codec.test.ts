import { describe, expect, it } from 'vitest';
import {
  AnswerEncoder,
  CallDecoder,
  parseSignature,
  ProtocolError,
  readInt,
  SignatureCache,
  writeInt,
  type DecodedCall,
} from '../src/index.js';

function encodeCall(sig: string, words: (bigint | number)[]): Buffer {
  const name = Buffer.from(sig, 'latin1');
  const args = Buffer.alloc(8 * words.length);
  words.forEach((w, k) => {
    if (typeof w === 'number' && !Number.isInteger(w)) args.writeDoubleLE(w, 8 * k);
    else args.writeBigUInt64LE(BigInt.asUintN(64, BigInt(w)), 8 * k);
  });
  return Buffer.concat([Buffer.of(name.length), name, args]);
}

/** Decodes every call in `bytes`, fed in chunks of `size` bytes. */
function decodeAll(bytes: Buffer, size: number): DecodedCall[] {
  const dec = new CallDecoder();
  const calls: DecodedCall[] = [];
  for (let off = 0; off < bytes.length; off += size) {
    const chunk = bytes.subarray(off, off + size);
    let pos = 0;
    while (pos < chunk.length) {
      pos = dec.feed(chunk, pos);
      const c = dec.take();
      if (c) calls.push(c);
    }
  }
  return calls;
}

function decodeError(bytes: Buffer): ProtocolError {
  try {
    decodeAll(bytes, bytes.length);
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error('expected a ProtocolError');
}

describe('call decoder', () => {
  const stream = Buffer.concat([
    encodeCall('read(ipi)i', [3, 0x7fff_dead_beefn, 8192]),
    encodeCall('getpid()i', []),
    encodeCall('lseek(iii)i', [3, -1, 2]),
    encodeCall('f(fvp)p', [1.5, 0xffff_ffff_ffff_fff0n]),
    encodeCall('big(i)i', [0x7fff_ffff_ffff_ffffn]),
  ]);

  it('gives the same calls whatever the chunk size, one byte at a time included', () => {
    const whole = decodeAll(stream, stream.length);
    for (const size of [1, 2, 3, 7, 8, 9, 17, 64]) expect(decodeAll(stream, size)).toEqual(whole);
    expect(whole.map((c) => c.sig.text)).toEqual(['read(ipi)i', 'getpid()i', 'lseek(iii)i', 'f(fvp)p', 'big(i)i']);
  });

  it('decodes integers exactly and pointers as bigints', () => {
    const [read, , lseek, f, big] = decodeAll(stream, 5);
    expect(read!.args).toEqual([3, 0x7fff_dead_beefn, 8192]);
    expect(lseek!.args).toEqual([3, -1, 2]);
    expect(f!.args).toEqual([1.5, 0xffff_ffff_ffff_fff0n]);
    expect(f!.sig.args).toEqual(['f', 'p']);
    expect(big!.args).toEqual([0x7fff_ffff_ffff_ffffn]);
  });

  it('stops after each call so the reply bytes that follow are not taken for a call', () => {
    const dec = new CallDecoder();
    const bytes = Buffer.concat([encodeCall('getpid()i', []), Buffer.from('RAW REPLY')]);
    const pos = dec.feed(bytes);
    expect(dec.take()?.sig.text).toBe('getpid()i');
    expect(bytes.subarray(pos).toString()).toBe('RAW REPLY');
  });

  it('caches the layout of a signature', () => {
    const [a, b] = decodeAll(Buffer.concat([encodeCall('close(i)i', [1]), encodeCall('close(i)i', [2])]), 1);
    expect(a!.sig).toBe(b!.sig);
  });

  it('rejects a length byte of 0', () => {
    expect(decodeError(Buffer.from([0, 1, 2])).code).toBe('zero-length');
  });

  it('rejects a name without parentheses, with bad characters, or with text after the result', () => {
    for (const bad of ['getpid', 'get pid()i', 'getpid()ii', 'getpid()', 'getpid(i', '()i', 'x()q']) {
      const e = decodeError(Buffer.concat([Buffer.of(bad.length), Buffer.from(bad)]));
      expect(e.message).toContain(JSON.stringify(bad));
    }
  });

  it('rejects an unknown argument kind', () => {
    const e = decodeError(encodeCall('f(ixi)i', []));
    expect(e.code).toBe('bad-kind');
    expect(e.message).toMatch(/unknown argument kind 'x'/);
  });

  it('rejects more than 32 arguments and accepts exactly 32', () => {
    const sig33 = `f(${'i'.repeat(33)})i`;
    expect(decodeError(encodeCall(sig33, [])).code).toBe('too-many-args');
    const sig32 = `f(${'i'.repeat(32)})i`;
    const [c] = decodeAll(
      encodeCall(
        sig32,
        Array.from({ length: 32 }, (_, k) => k),
      ),
      3,
    );
    expect(c!.args).toHaveLength(32);
  });

  it('shows the offending bytes in the error', () => {
    const e = decodeError(Buffer.from([0, 0xde, 0xad]));
    expect(e.message).toMatch(/00 de ad/);
    expect(e.bytes.subarray(0, 3)).toEqual(Buffer.from([0, 0xde, 0xad]));
  });

  it('reports the bytes of an unfinished call', () => {
    const dec = new CallDecoder();
    dec.feed(encodeCall('read(ipi)i', [1, 2n, 3]).subarray(0, 15));
    expect(dec.midCall).toBe(true);
    expect(dec.pending().toString('latin1')).toContain('read(ipi)i');
  });
});

describe('answer encoder', () => {
  it('encodes every command byte for byte', () => {
    const enc = new AnswerEncoder();
    enc
      .read(0x1000n, 16)
      .readString(0x2000n, 4096)
      .write(0x3000n, Buffer.from('hi'))
      .malloc(Buffer.from('abc'))
      .free(0x4000n)
      .errno(13);
    const b = enc.flushOne();
    const expected = Buffer.concat([
      Buffer.from('R'),
      u64(0x1000n),
      u64(16n),
      Buffer.from('Z'),
      u64(0x2000n),
      u64(4096n),
      Buffer.from('W'),
      u64(0x3000n),
      u64(2n),
      Buffer.from('hi'),
      Buffer.from('M'),
      u64(3n),
      Buffer.from('abc'),
      Buffer.from('F'),
      u64(0x4000n),
      Buffer.from('E'),
      i32(13),
    ]);
    expect(b).toEqual(expected);
  });

  it('encodes each result kind; -1 and full 64-bit pointers round-trip', () => {
    const enc = new AnswerEncoder();
    expect(enc.result('v').flushOne()).toEqual(Buffer.from('v'));
    expect(enc.result('i', -1).flushOne()).toEqual(Buffer.concat([Buffer.from('i'), Buffer.alloc(8, 0xff)]));
    expect(enc.result('p', 0xffff_ffff_ffff_fff8n).flushOne()).toEqual(
      Buffer.concat([Buffer.from('p'), u64(0xffff_ffff_ffff_fff8n)]),
    );
    const f = enc.result('f', 2.25).flushOne();
    expect(f[0]).toBe(0x66);
    expect(f.readDoubleLE(1)).toBe(2.25);
  });

  it('keeps large payloads as their own buffers, in order', () => {
    const enc = new AnswerEncoder();
    const big = Buffer.alloc(100_000, 7);
    enc.write(0x10n, big).errno(2).result('i', 100_000);
    const parts = enc.flush();
    expect(parts).toContain(big);
    const all = Buffer.concat(parts);
    expect(all.length).toBe(17 + 100_000 + 5 + 9);
    expect(all.subarray(17, 17 + 100_000)).toEqual(big);
    expect(all.subarray(-14, -9)).toEqual(Buffer.concat([Buffer.from('E'), i32(2)]));
  });

  it('writes data read in place exactly as a copied W, and no W when none was read', () => {
    const data = Buffer.from('print(6*7)\n');
    const copied = new AnswerEncoder().write(0x7000n, data).result('i', data.length).flushOne();
    const enc = new AnswerEncoder();
    const into = enc.writeInPlace(0x7000n, 8192);
    expect(into.length).toBe(8192);
    enc.endWrite(data.copy(into));
    expect(enc.result('i', data.length).flushOne()).toEqual(copied);
    enc.writeInPlace(0x7000n, 100);
    enc.endWrite(0);
    expect(enc.result('i', 0).flushOne()).toEqual(Buffer.concat([Buffer.from('i'), u64(0n)]));
    // A failed call drops what its handler queued, an open in-place write included.
    enc.writeInPlace(0x7000n, 100);
    enc.discard();
    expect(enc.errno(9).result('i', -1).flushOne()).toEqual(
      Buffer.concat([Buffer.from('E'), i32(9), Buffer.from('i'), Buffer.alloc(8, 0xff)]),
    );
  });

  it('never writes again into an answer it handed out, however many follow', () => {
    const enc = new AnswerEncoder();
    const first = enc.write(0x10n, Buffer.alloc(3000, 1)).result('i', 3000).flushOne();
    const kept = Buffer.from(first);
    for (let k = 0; k < 200; k++)
      enc
        .write(0x20n, Buffer.alloc(5000, k & 0xff))
        .result('i', 5000)
        .flush();
    expect(first).toEqual(kept);
  });
});

describe('64-bit integers', () => {
  it('are numbers when safe and bigints otherwise, never rounded', () => {
    const b = Buffer.alloc(8);
    for (const v of [0, 1, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 0x1_0000_0000, -0x1_0000_0001]) {
      writeInt(b, 0, v);
      expect(readInt(b, 0)).toBe(v);
      expect(b.readBigInt64LE(0)).toBe(BigInt(v));
    }
    for (const v of [2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n)]) {
      writeInt(b, 0, v);
      expect(readInt(b, 0)).toBe(v);
    }
  });

  it('signature parsing records the layout', () => {
    const s = parseSignature('pread(ipii)i');
    expect(s).toMatchObject({ name: 'pread', args: ['i', 'p', 'i', 'i'], result: 'i', argBytes: 32 });
  });
});

function u64(v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

function i32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v);
  return b;
}

describe('strings sent along with a call (supervisor extension)', () => {
  it('decodes them byte by byte, keyed by pointer, and names the kind p', () => {
    const name = Buffer.from('openat(isii)i');
    const args = Buffer.alloc(32);
    args.writeBigInt64LE(-100n, 0);
    args.writeBigUInt64LE(0x5000n, 8);
    const path = Buffer.from('/tmp/x');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(path.length));
    const bytes = Buffer.concat([
      Buffer.of(name.length),
      name,
      args,
      Buffer.from('+'),
      len,
      path,
      Buffer.of(9),
      Buffer.from('getpid()i'),
    ]);
    const dec = new CallDecoder(new SignatureCache(16, true));
    const calls: DecodedCall[] = [];
    for (let k = 0; k < bytes.length; k++) {
      dec.feed(bytes.subarray(k, k + 1));
      const c = dec.take();
      if (c) calls.push(c);
    }
    expect(calls.map((c) => c.sig.text)).toEqual(['openat(ipii)i', 'getpid()i']);
    expect(calls[0]!.strings?.get(0x5000n)?.toString()).toBe('/tmp/x');
  });

  it('records a bad pointer and refuses the kind without the extension', () => {
    const name = Buffer.from('unlink(s)i');
    const bytes = Buffer.concat([Buffer.of(name.length), name, Buffer.alloc(8), Buffer.from('!')]);
    const dec = new CallDecoder(new SignatureCache(16, true));
    dec.feed(bytes);
    expect(dec.take()!.strings?.get(0n)).toBeNull();
    expect(() => new CallDecoder().feed(bytes)).toThrow(/unknown argument kind 's'/);
  });
});
