import type { Handler } from '../../handlers/context.js';
import { linuxHandlers } from '../../handlers/linux/table.js';
import { pypyHandlers } from '../../handlers/pypy/table.js';

/**
 * The handlers of one controller by signature: the stock table of its guest kind (system calls
 * for a stock interpreter, libc-level functions for a sandboxed PyPy) with the caller's own on top.
 * `replaced` names the signatures the caller handles: the supervisor answers none of those itself.
 */
export interface HandlerTable {
  readonly bySig: Readonly<Record<string, Handler>>;
  readonly replaced: ReadonlySet<string>;
}

export function handlerTable(
  guestKind: 'sandboxed-pypy' | 'stock',
  own: Record<string, Handler> | undefined,
): HandlerTable {
  const stock = guestKind === 'stock' ? linuxHandlers : pypyHandlers;
  return { bySig: { ...stock, ...own }, replaced: new Set(Object.keys(own ?? {})) };
}
