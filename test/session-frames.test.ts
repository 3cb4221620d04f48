import { expect, it } from 'vitest';
import { FrameReader, FramingError } from '../src/session/frames.js';

// The host's reading of the driver's frames, fed as a hostile pipe would: any cut, any size.

function frame(kind: string, payload: Buffer | string): Buffer {
  const body = Buffer.from(payload);
  const head = Buffer.alloc(8);
  head.write(`PBX${kind}`, 'latin1');
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

it('reads frames however the stream cuts them, a byte at a time or many at once', () => {
  const stream = Buffer.concat([
    frame('O', 'out'),
    frame('E', ''),
    frame('D', '{"id":"x"}'),
    frame('O', 'x'.repeat(65536)),
  ]);
  const whole = new FrameReader(1 << 20).push(stream);
  expect(whole.map((f) => [f.kind, f.payload.length])).toEqual([
    ['O', 3],
    ['E', 0],
    ['D', 10],
    ['O', 65536],
  ]);
  const reader = new FrameReader(1 << 20);
  const bytewise = [];
  for (let i = 0; i < stream.length; i++) bytewise.push(...reader.push(stream.subarray(i, i + 1)));
  expect(bytewise).toEqual(whole);
  expect(reader.pending).toBe(0);
});

it('takes a large answer in many chunks', () => {
  const big = frame('D', Buffer.alloc(3 << 20, 0x61));
  const reader = new FrameReader(4 << 20);
  const out = [];
  for (let i = 0; i < big.length; i += 65536) out.push(...reader.push(big.subarray(i, i + 65536)));
  expect(out).toHaveLength(1);
  expect(out[0]!.payload.length).toBe(3 << 20);
});

it('refuses bytes outside a frame, unknown kinds and frames past their bound at once', () => {
  expect(() => new FrameReader(1024).push(Buffer.from('hello'))).toThrow(/outside the session's framing: "hello"/);
  expect(() => new FrameReader(1024).push(Buffer.concat([frame('O', 'ok'), Buffer.from('Xtra')]))).toThrow(
    FramingError,
  );
  expect(() => new FrameReader(1024).push(frame('Q', ''))).toThrow(/unknown frame kind "Q"/);
  const huge = Buffer.from('PBXD\xff\xff\xff\xff', 'latin1');
  expect(() => new FrameReader(1024).push(huge)).toThrow(/frame D of 4294967295 bytes, more than 1024/);
  expect(() => new FrameReader(1 << 30).push(frame('O', Buffer.alloc(65537)))).toThrow(
    /frame O of 65537 bytes, more than 65536/,
  );
});
