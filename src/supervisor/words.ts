import { LIMITS } from './contract/contract.js';

/**
 * The supervisor's word frame, as src/supervisor/native/words.c reads it: u32 length (little
 * endian), then that many bytes of NUL-terminated words, at most MAX_FRAME bytes. The local-answer
 * configuration and a spare supervisor's start message travel so.
 */

/** Largest frame the supervisor takes (the contract's, src/supervisor/contract/contract.json). */
export const MAX_FRAME = LIMITS.maxFrame;

/** One frame of words; a word with a NUL, or a frame the supervisor would refuse, is an error here. */
export function wordFrame(words: readonly string[]): Buffer {
  const bad = words.find((w) => w.includes('\0'));
  if (bad !== undefined)
    throw new Error(`a word for the supervisor contains a NUL byte: ${JSON.stringify(bad.slice(0, 64))}`);
  const body = Buffer.from(words.map((w) => `${w}\0`).join(''));
  if (body.length > MAX_FRAME)
    throw new Error(`a message for the supervisor of ${body.length} bytes (at most ${MAX_FRAME})`);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length);
  return Buffer.concat([head, body]);
}
