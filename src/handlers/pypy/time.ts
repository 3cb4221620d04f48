import { setTimeout as sleep } from 'node:timers/promises';
import { CLOCK, Errno, GuestErrno, RUSAGE } from '../../platform/index.js';
import { intArg, ptrArg } from '../args.js';
import type { Handler } from '../context.js';

/** Clocks come from the session's virtual clock (real or fixed-start). */

export const time: Handler = (ctx, [ptrv]) => {
  const sec = ctx.session.clock.realtimeNs() / 1_000_000_000n;
  const p = ptrArg(ptrv!);
  if (p !== 0n) {
    const b = Buffer.alloc(ctx.session.platform.layouts.time_t.size);
    b.writeBigInt64LE(sec);
    ctx.writeMemory(p, b);
  }
  return sec;
};

export const gettimeofday: Handler = (ctx, [tvv]) => {
  const ns = ctx.session.clock.realtimeNs();
  const p = ptrArg(tvv!);
  if (p !== 0n)
    ctx.writeMemory(p, ctx.session.platform.encodeTimeval(ns / 1_000_000_000n, (ns % 1_000_000_000n) / 1000n));
  return 0;
};

const C = CLOCK;
const REALTIME = new Set<number>([C.CLOCK_REALTIME, C.CLOCK_REALTIME_COARSE, C.CLOCK_REALTIME_ALARM]);
/** The run's elapsed time stands in for the monotonic, boot and CPU clocks. */
const MONOTONIC = new Set<number>([
  C.CLOCK_MONOTONIC,
  C.CLOCK_PROCESS_CPUTIME_ID,
  C.CLOCK_THREAD_CPUTIME_ID,
  C.CLOCK_MONOTONIC_RAW,
  C.CLOCK_MONOTONIC_COARSE,
  C.CLOCK_BOOTTIME,
  C.CLOCK_BOOTTIME_ALARM,
]);

export const clockGettime: Handler = (ctx, [clkv, tsv]) => {
  const clk = intArg(clkv!, 'clock id');
  let ns: bigint;
  if (REALTIME.has(clk)) ns = ctx.session.clock.realtimeNs();
  else if (MONOTONIC.has(clk)) ns = ctx.session.clock.monotonicNs();
  else throw new GuestErrno(Errno.EINVAL, `clock ${clk} is not supported`);
  ctx.writeMemory(ptrArg(tsv!), ctx.session.platform.encodeTimespec(ns / 1_000_000_000n, ns % 1_000_000_000n));
  return 0;
};

export const clockGetres: Handler = (ctx, [clkv, tsv]) => {
  const clk = intArg(clkv!, 'clock id');
  if (!REALTIME.has(clk) && !MONOTONIC.has(clk)) throw new GuestErrno(Errno.EINVAL, `clock ${clk} is not supported`);
  const p = ptrArg(tsv!);
  if (p !== 0n) ctx.writeMemory(p, ctx.session.platform.encodeTimespec(0n, 1n));
  return 0;
};

/** clock(): processor time in microseconds (CLOCKS_PER_SEC = 10^6); the run's elapsed time stands in. */
export const clock: Handler = (ctx) => Number(ctx.session.clock.monotonicNs() / 1000n);

/** times(): elapsed ticks at 100 Hz, process times filled with the same. */
export const times: Handler = (ctx, [bufv]) => {
  const ticks = ctx.session.clock.monotonicNs() / 10_000_000n;
  const p = ptrArg(bufv!);
  if (p !== 0n) {
    const { size, offsets: o } = ctx.session.platform.layouts.tms;
    const b = Buffer.alloc(size);
    b.writeBigInt64LE(ticks, o.tms_utime);
    ctx.writeMemory(p, b);
  }
  return ticks;
};

export const getrusage: Handler = (ctx, [whov, bufv]) => {
  const who = intArg(whov!, 'who');
  if (!Object.values(RUSAGE).includes(who as never)) throw new GuestErrno(Errno.EINVAL, 'bad who');
  const { rusage } = ctx.session.platform.layouts;
  const b = Buffer.alloc(rusage.size);
  const us = ctx.session.clock.monotonicNs() / 1000n;
  ctx.session.platform.encodeTimeval(us / 1_000_000n, us % 1_000_000n).copy(b, rusage.offsets.ru_utime);
  ctx.writeMemory(ptrArg(bufv!), b);
  return 0;
};

/** select(0, NULL, NULL, NULL, timeout) is how time.sleep() waits; descriptors are not polled. */
export const select: Handler = async (ctx, [nfdsv, r, w, x, tvv]) => {
  const nfds = intArg(nfdsv!, 'nfds');
  if (nfds !== 0 || r !== 0n || w !== 0n || x !== 0n)
    throw new GuestErrno(Errno.ENOSYS, 'select on descriptors is not supported');
  const tv = ptrArg(tvv!);
  if (tv === 0n) throw new GuestErrno(Errno.EINVAL, 'select without timeout or descriptors would block forever');
  const { size, offsets: o } = ctx.session.platform.layouts.timeval;
  const raw = await ctx.readMemory(tv, size);
  const sec = raw.readBigInt64LE(o.tv_sec);
  const usec = raw.readBigInt64LE(o.tv_usec);
  if (sec < 0n || usec < 0n || usec >= 1_000_000n) throw new GuestErrno(Errno.EINVAL, 'bad timeout');
  const ms = Math.min(2 ** 31 - 1, Number(sec) * 1000 + Number(usec) / 1000);
  // The run's signal ends the wait when the run ends (timeout, abort), so no timer outlives it.
  await sleep(ms, undefined, { signal: ctx.session.signal }).catch(() => undefined);
  ctx.writeMemory(tv, Buffer.alloc(size));
  return 0;
};
