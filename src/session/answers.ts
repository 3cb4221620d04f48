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
    return { value: null, error, json: o.json, dropped };
  }
  return { value: o.value, error, dropped };
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
