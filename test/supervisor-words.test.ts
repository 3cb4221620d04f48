/*
 * The supervisor's input parsers (src/supervisor/native/words.c) against a reference written here:
 * unsigned decimal numbers, numbers in fields, hex, word frames read from a pipe, frames written.
 * Boundary cases first, then seeded random ones; the C side runs under AddressSanitizer and UBSan
 * where the compiler has them (test/guest/words-probe.c).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_FRAME, wordFrame } from '../src/supervisor/words.js';
import { ROOT } from './helpers.js';
import { rng } from './rng.js';

const PROBE = path.join(ROOT, 'build/test/words-probe');
const SEED = Number(process.env.PYPY_BOX_FUZZ_SEED ?? 20_261_130);
const U64_MAX = (1n << 64n) - 1n;
const MAX_FIELD = 23; // characters of one number inside a word (a u64 has 20 digits)

const hex = (b: Buffer | string): string => (b.length === 0 ? '-' : Buffer.from(b as string, 'latin1').toString('hex'));

/** Runs the probe on many requests at once: one answer line per request. */
function probe(requests: string[]): string[] {
  const out = execFileSync(PROBE, { input: requests.join('\n') + '\n', maxBuffer: 64 << 20 }).toString();
  return out.split('\n').slice(0, requests.length);
}

// ---- the reference ----

function refUint(max: bigint, text: string): string {
  if (!/^[0-9]+$/.test(text)) return 'refused';
  const v = BigInt(text);
  return v <= max && v <= U64_MAX ? String(v) : 'refused';
}

function refFields(sep: string, count: number, max: bigint, text: string): string {
  const fields = text.split(sep);
  if (fields.length !== count || fields.some((f) => f.length > MAX_FIELD)) return 'refused';
  const values = fields.map((f) => refUint(max, f));
  return values.includes('refused') ? 'refused' : values.join(' ');
}

function refHex(n: number, text: string): string {
  return text.length === 2 * n && /^[0-9a-fA-F]*$/.test(text) ? hex(Buffer.from(text, 'hex')) : 'refused';
}

function refRead(max: number, allowEmpty: boolean, stream: Buffer): string {
  if (stream.length === 0) return 'none';
  if (stream.length < 4) return 'cut';
  const len = stream.readUInt32LE(0);
  if (len > max || len > MAX_FRAME) return 'too-big';
  if (len === 0 && !allowEmpty) return 'empty';
  if (stream.length - 4 < len) return 'cut';
  const body = stream.subarray(4, 4 + len);
  if (len && body[len - 1] !== 0) return 'unended';
  const words = len
    ? body
        .subarray(0, len - 1)
        .toString('latin1')
        .split('\0')
    : [];
  return ['ok', String(words.length), ...words.map(hex)].join(' ');
}

// ---- cases ----

/** Text without NUL (a C string ends there), from an alphabet that makes near misses likely. */
function text(r: ReturnType<typeof rng>, alphabet: string, max: number): string {
  return Array.from({ length: r.int(max + 1) }, () => alphabet[r.int(alphabet.length)]).join('');
}

const NUMBERS = [
  '0',
  '1',
  '00',
  '007',
  String(U64_MAX),
  String(U64_MAX + 1n),
  '99999999999999999999',
  '4294967295',
  '4294967296',
  '2147483647',
  '4096',
  '4097',
  '',
  ' 1',
  '1 ',
  '+1',
  '-0',
  '-1',
  '0x1',
  '1e3',
  '\xb9',
  '12a',
  '\t5',
];
const MAXES = [0n, 1n, 2n, 4096n, 0x7fffffffn, 0xffffffffn, U64_MAX];

describe('the supervisor input parsers (words.h)', () => {
  beforeAll(() => {
    const cc = process.env.CC ?? 'cc';
    fs.mkdirSync(path.dirname(PROBE), { recursive: true });
    const src = path.join(ROOT, 'test/guest/words-probe.c');
    const plain = ['-O1', '-g', '-Wall', '-Wextra', '-o', PROBE, src, path.join(ROOT, 'src/supervisor/native/words.c')];
    try {
      execFileSync(cc, ['-fsanitize=address,undefined', '-fno-sanitize-recover=all', ...plain], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      // Leak checks need ptrace, which containers often refuse; this probe leaks nothing by design.
      execFileSync(PROBE, { input: '', env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=0' } });
    } catch {
      execFileSync(cc, plain, { stdio: 'inherit' });
    }
    process.env.ASAN_OPTIONS = 'detect_leaks=0';
  });

  it('reads unsigned decimal numbers only: digits, no sign, space or prefix, no overflow, at most the maximum', () => {
    const r = rng(SEED);
    const cases: [bigint, string][] = [];
    for (const m of MAXES) for (const n of NUMBERS) cases.push([m, n]);
    for (let k = 0; k < 400; k++)
      cases.push([r.pick(MAXES), r.chance(0.5) ? text(r, '0123456789', 22) : text(r, '0123456789 +-xa', 6)]);
    const got = probe(cases.map(([m, t]) => `u ${m} ${hex(t)}`));
    expect(got).toEqual(cases.map(([m, t]) => refUint(m, t)));
  });

  it('reads numbers in fields ("1000:1000", "0,0,0,0"): exactly the count, each checked', () => {
    const r = rng(SEED + 1);
    const cases: [string, number, bigint, string][] = [
      [':', 2, 0xffffffffn, '1000:1000'],
      [':', 2, 0xffffffffn, '1000'],
      [':', 2, 0xffffffffn, '1:2:3'],
      [':', 2, 0xffffffffn, ':1'],
      [':', 2, 0xffffffffn, '1:'],
      [':', 2, 0xffffffffn, '4294967296:0'],
      [',', 4, 0xffffffffn, '0,0,0,0'],
      [',', 4, 0xffffffffn, '-1,0,0,0'],
      [',', 4, 0xffffffffn, '1,2,3'],
      [',', 1, U64_MAX, '0'.repeat(MAX_FIELD)],
      [',', 1, U64_MAX, '0'.repeat(MAX_FIELD + 1)],
    ];
    for (let k = 0; k < 300; k++) {
      const sep = r.pick([':', ',']);
      cases.push([sep, 1 + r.int(4), r.pick(MAXES), text(r, `0123456789${sep}${sep} -`, 16)]);
    }
    const got = probe(cases.map(([s, c, m, t]) => `f ${hex(s)} ${c} ${m} ${hex(t)}`));
    expect(got).toEqual(cases.map(([s, c, m, t]) => refFields(s, c, m, t)));
  });

  it('decodes hex strictly: exactly two digits a byte, no sign, space or prefix', () => {
    const r = rng(SEED + 2);
    const cases: [number, string][] = [
      [1, 'ff'],
      [1, 'FF'],
      [1, 'f'],
      [1, ' f'],
      [1, '+f'],
      [1, '0x'],
      [2, '0x10'],
      [0, ''],
      [3, 'abcdeg'],
    ];
    for (let k = 0; k < 300; k++) {
      const n = r.int(8);
      cases.push([
        n,
        r.chance(0.5) ? text(r, '0123456789abcdefABCDEF', 16) : text(r, '0123456789abcdefgx +-', 2 * n + 1),
      ]);
    }
    const got = probe(cases.map(([n, t]) => `x ${n} ${hex(t)}`));
    expect(got).toEqual(cases.map(([n, t]) => refHex(n, t)));
  });

  it('reads word frames: bounded, cut short, empty, not NUL-ended, and exactly as many words as NULs', () => {
    const r = rng(SEED + 3);
    const frame = (body: Buffer, len = body.length) => {
      const head = Buffer.alloc(4);
      head.writeUInt32LE(len);
      return Buffer.concat([head, body]);
    };
    const cases: [number, boolean, Buffer][] = [
      [MAX_FRAME, true, Buffer.alloc(0)],
      [MAX_FRAME, true, Buffer.from([1, 0])],
      [MAX_FRAME, true, frame(Buffer.alloc(0))],
      [MAX_FRAME, false, frame(Buffer.alloc(0))],
      [MAX_FRAME, true, frame(Buffer.alloc(64))], // 64 empty words (overflowed read_config's table)
      [MAX_FRAME, true, frame(Buffer.from('a\0b\0'))],
      [MAX_FRAME, true, frame(Buffer.from('a\0b'))],
      [MAX_FRAME, true, frame(Buffer.from('a\0'), 3)],
      [MAX_FRAME, true, frame(Buffer.from('a\0'), MAX_FRAME + 1)],
      [MAX_FRAME, true, frame(Buffer.from('a\0'), 0xffffffff)],
      [4, true, frame(Buffer.from('abcd\0'))],
    ];
    for (let k = 0; k < 300; k++) {
      const body = Buffer.from(text(r, 'ab\0\0\0', 40), 'latin1');
      const len = r.chance(0.8)
        ? body.length
        : r.pick([0, body.length + 1, Math.max(0, body.length - 1), r.int(1 << 21)]);
      let stream = frame(body, len);
      if (r.chance(0.1)) stream = stream.subarray(0, r.int(stream.length));
      cases.push([r.pick([MAX_FRAME, 16, 0]), r.chance(0.5), stream]);
    }
    const got = probe(cases.map(([m, e, s]) => `r ${m} ${e ? 1 : 0} ${hex(s)}`));
    expect(got).toEqual(cases.map(([m, e, s]) => refRead(m, e, s)));
  });

  it('writes frames as the controller does, and the reader takes them back word for word', () => {
    const r = rng(SEED + 4);
    const cases: string[][] = [[], [''], ['a', '', 'b'], ['NAME=value', '--', '/bin/true']];
    for (let k = 0; k < 100; k++) cases.push(Array.from({ length: r.int(12) }, () => text(r, 'abc=-/ ', 30)));
    expect(() => wordFrame(['a\0b'])).toThrow(/NUL/);
    expect(() => wordFrame(['x'.repeat(MAX_FRAME)])).toThrow(/at most/);
    expect(wordFrame(['x'.repeat(MAX_FRAME - 1)]).length).toBe(4 + MAX_FRAME);
    const got = probe(cases.map((ws) => ['b', ...ws.map(hex)].join(' ')));
    expect(got).toEqual(cases.map((ws) => hex(wordFrame(ws))));
    const back = probe(got.map((h) => `r ${MAX_FRAME} 1 ${h}`));
    expect(back).toEqual(cases.map((ws) => ['ok', String(ws.length), ...ws.map(hex)].join(' ')));
  });
});
