import { ProtocolError } from './errors.js';

/** Argument kinds of the sandbox-2 wire: integer, float, pointer; `v` carries no bytes. */
export type ArgKind = 'i' | 'f' | 'p';
export type ResultKind = 'v' | 'i' | 'f' | 'p';

const WORD = 8;
/** The guest's argument buffer holds at most 256 bytes: 32 words. */
export const MAX_ARGS = 32;

export interface Signature {
  /** The full text as sent, e.g. `read(ipi)i`: the key of every handler table. */
  readonly text: string;
  readonly name: string;
  /** Kinds of the arguments that carry bytes, in wire order. */
  readonly args: readonly ArgKind[];
  readonly result: ResultKind;
  /** Bytes of argument payload that follow the name. */
  readonly argBytes: number;
  /**
   * Supervisor extension: arguments (indexes) sent as `s`, a pointer whose C string follows the
   * arguments. `text` names them `p`, so handler tables see one signature.
   */
  readonly strings: readonly number[];
}

const SHAPE = /^([A-Za-z_][A-Za-z0-9_]*)\(([a-z]*)\)([a-z]*)$/;

/** Parses `NAME(KINDS)R`; anything else is a protocol violation, never a guess. */
export function parseSignature(text: string, allowStrings = false): Signature {
  const m = SHAPE.exec(text);
  const raw = Buffer.from(text, 'latin1');
  if (!m) throw new ProtocolError('bad-signature', `malformed call signature ${JSON.stringify(text)}`, raw);
  const [, name, kinds, result] = m as unknown as [string, string, string, string];
  const args: ArgKind[] = [];
  const strings: number[] = [];
  for (const k of kinds) {
    if (k === 'i' || k === 'f' || k === 'p') args.push(k);
    else if (k === 's' && allowStrings) {
      strings.push(args.length);
      args.push('p');
    } else if (k !== 'v') {
      throw new ProtocolError('bad-kind', `unknown argument kind '${k}' in ${JSON.stringify(text)}`, raw);
    }
  }
  if (result.length !== 1 || !'vifp'.includes(result)) {
    const what = result.length === 0 ? 'missing result kind' : `bad result kind ${JSON.stringify(result)}`;
    throw new ProtocolError('bad-result-kind', `${what} in ${JSON.stringify(text)}`, raw);
  }
  if (args.length > MAX_ARGS) {
    throw new ProtocolError('too-many-args', `${args.length} arguments in ${name} (at most ${MAX_ARGS})`, raw);
  }
  const canonical = strings.length
    ? text.replace(/\(([a-z]*)\)/, (_all, ks: string) => `(${ks.replace(/s/g, 'p')})`)
    : text;
  return { text: canonical, name, args, result: result as ResultKind, argBytes: args.length * WORD, strings };
}

/** Signatures seen on the wire, parsed once each; bounded so a hostile guest cannot grow it forever. */
export class SignatureCache {
  private readonly map = new Map<string, Signature>();
  constructor(
    private readonly limit = 4096,
    private readonly allowStrings = false,
  ) {}
  get(text: string): Signature {
    let sig = this.map.get(text);
    if (sig === undefined) {
      sig = parseSignature(text, this.allowStrings);
      if (this.map.size >= this.limit) this.map.clear();
      this.map.set(text, sig);
    }
    return sig;
  }
}
