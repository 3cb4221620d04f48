import { MAX_VALUE_DEPTH } from './driver.js';
import { FramingError } from './frames.js';
import type { SnippetError } from './types.js';

/** What the driver says of its interpreter when it is ready. */
export interface GuestInfo {
  version: string;
  implementation: string;
  /** Whether a snippet can be interrupted (the interpreter has a signal module). */
  interrupts: boolean;
}

const str = (v: unknown): v is string => typeof v === 'string';

/** The ready frame, checked field by field (guest input). */
export function readyInfo(o: Record<string, unknown>): GuestInfo {
  if (!str(o.version) || !str(o.implementation) || typeof o.interrupts !== 'boolean')
    throw new FramingError(
      `a ready frame without version, implementation and interrupts: ${JSON.stringify(o).slice(0, 200)}`,
    );
  return { version: o.version, implementation: o.implementation, interrupts: o.interrupts };
}

/** A done frame for the request `id`, checked field by field (guest input). */
export function answerOf(
  o: Record<string, unknown>,
  id: string,
  kind: 'run' | 'call',
): { value: string | null; error: SnippetError | null; json?: string; dropped: number } {
  if (o.id !== id) throw new FramingError(`an answer for request ${JSON.stringify(o.id)} while ${id} runs`);
  if (o.value !== null && !str(o.value)) throw new FramingError('an answer whose value is not a string or null');
  const error = errorOf(o.error);
  const dropped = droppedOf(o.dropped);
  if (kind === 'call' && error === null) {
    if (!str(o.json)) throw new FramingError('a call answer without its JSON');
    try {
      JSON.parse(o.json);
    } catch {
      throw new FramingError('a call answer whose JSON does not parse');
    }
    // The driver refuses deeper values, but it runs in the guest: a value past its bound is a
    // forged answer (and one deep enough would overflow the stack of whoever stringifies it).
    if (nesting(o.json) > MAX_NESTING)
      throw new FramingError(`a call answer nested deeper than the driver allows (${MAX_VALUE_DEPTH} levels)`);
    return { value: null, error, json: o.json, dropped };
  }
  return { value: o.value, error, dropped };
}

/** Levels of arrays and objects a call's value may have: the driver's bound, depths 0 to MAX_VALUE_DEPTH. */
const MAX_NESTING = MAX_VALUE_DEPTH + 1;

/** The deepest nesting of arrays and objects in a JSON text known to parse. */
function nesting(json: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let k = 0; k < json.length; k++) {
    const c = json.charCodeAt(k);
    if (inString) {
      if (c === 0x5c)
        k++; // a backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) deepest = Math.max(deepest, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Bytes of background output the driver could not keep (a decimal string, when any). */
function droppedOf(d: unknown): number {
  if (d === undefined) return 0;
  if (!str(d) || !/^[1-9][0-9]{0,15}$/.test(d)) throw new FramingError('an answer whose dropped count is not a number');
  return Number(d);
}

function errorOf(e: unknown): SnippetError | null {
  if (e === null || e === undefined) return null;
  const r = e as Record<string, unknown>;
  if (typeof e !== 'object' || !str(r.type) || !str(r.message) || !str(r.traceback))
    throw new FramingError('an answer whose error is not { type, message, traceback }');
  return { type: r.type, message: r.message, traceback: r.traceback };
}
