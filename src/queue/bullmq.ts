import { createRequire } from 'node:module';
import type * as BullMQ from 'bullmq';

let loaded: typeof BullMQ | undefined;

/**
 * BullMQ, loaded on first use (synchronously, its CommonJS build): it and ioredis take a fifth of
 * a second to load, which programs that import pypy-box and never use a queue should not pay.
 */
export function bullmq(): typeof BullMQ {
  return (loaded ??= createRequire(import.meta.url)('bullmq') as typeof BullMQ);
}
