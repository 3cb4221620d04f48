/** A guest broke the wire protocol. `bytes` holds the offending input (bounded) for the report. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: string;
  readonly bytes: Buffer;
  constructor(code: string, message: string, bytes: Buffer = Buffer.alloc(0)) {
    const shown = bytes.length ? ` (bytes: ${hexPreview(bytes)})` : '';
    super(`${message}${shown}`);
    this.code = code;
    this.bytes = Buffer.from(bytes.subarray(0, 64));
  }
}

/** Hex dump of at most 64 bytes, with a printable rendering, for error messages. */
export function hexPreview(bytes: Buffer, max = 64): string {
  const part = bytes.subarray(0, max);
  const hex = part.toString('hex').replace(/(..)(?!$)/g, '$1 ');
  const text = part.toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `${hex}${bytes.length > max ? ' …' : ''} |${text}|`;
}
