import { Errno, GuestErrno, type Platform } from '../../platform/index.js';
import { intArg, ptrArg } from '../args.js';
import type { CallContext, Handler } from '../context.js';
import type { Identity } from '../../kernel/session.js';

/** Identity, environment, system information, the interpreter's home: all virtual. */

export const getpid: Handler = (ctx) => ctx.session.identity.pid;
export const getppid: Handler = (ctx) => ctx.session.identity.ppid;
export const getuid: Handler = (ctx) => ctx.session.identity.uid;
export const geteuid: Handler = (ctx) => ctx.session.identity.euid;
export const getgid: Handler = (ctx) => ctx.session.identity.gid;
export const getegid: Handler = (ctx) => ctx.session.identity.egid;
/** Process group and session: the guest leads its own. */
export const getpgrp: Handler = (ctx) => ctx.session.identity.pid;
export const getpgid: Handler = (ctx, [pidv]) => {
  const pid = intArg(pidv!, 'pid');
  if (pid !== 0 && pid !== ctx.session.identity.pid) throw new GuestErrno(Errno.ESRCH, 'no such process');
  return ctx.session.identity.pid;
};

function putIds(ctx: CallContext, ptrs: unknown[], values: number[]): number {
  ptrs.forEach((p, k) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(values[k]! >>> 0);
    ctx.writeMemory(ptrArg(p as bigint), b);
  });
  return 0;
}

export const getresuid: Handler = (ctx, args) => {
  const id = ctx.session.identity;
  return putIds(ctx, args, [id.uid, id.euid, id.uid]);
};

export const getresgid: Handler = (ctx, args) => {
  const id = ctx.session.identity;
  return putIds(ctx, args, [id.gid, id.egid, id.gid]);
};

/** No supplementary groups. */
export const getgroups: Handler = () => 0;

/** What uname() shows the guest (also handed to the supervisor, which may answer it itself). */
export function utsname(platform: Platform, identity: Identity): Buffer {
  const machine = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
  return platform.encodeUtsname([
    'Linux',
    identity.hostname,
    '6.1.0-pypy-box',
    '#1 SMP PREEMPT_DYNAMIC',
    machine,
    '(none)',
  ]);
}

export const uname: Handler = (ctx, [bufv]) => {
  ctx.writeMemory(ptrArg(bufv!), utsname(ctx.session.platform, ctx.session.identity));
  return 0;
};

const SC: Record<number, (ctx: CallContext) => number> = {
  0: () => 2097152, // _SC_ARG_MAX
  1: () => 0, // _SC_CHILD_MAX: no children
  2: () => 100, // _SC_CLK_TCK
  3: () => 0, // _SC_NGROUPS_MAX
  4: (ctx) => ctx.session.files.limits.maxOpenFiles, // _SC_OPEN_MAX
  30: () => 4096, // _SC_PAGESIZE
  83: () => 1, // _SC_NPROCESSORS_CONF
  84: () => 1, // _SC_NPROCESSORS_ONLN
  85: () => 262144, // _SC_PHYS_PAGES (1 GiB shown)
  86: () => 262144, // _SC_AVPHYS_PAGES
};

export const sysconf: Handler = (ctx, [namev]) => {
  const f = SC[intArg(namev!, 'name')];
  if (!f) throw new GuestErrno(Errno.EINVAL, `sysconf name ${String(namev)} is not supported`);
  return f(ctx);
};

export const cpuCount: Handler = () => 1;

function cString(s: string): Buffer {
  return Buffer.from(s + '\0', 'utf8');
}

/** getenv: each value is copied into the guest once and reused, as libc's own environ would be. */
export const getenv: Handler = async (ctx, [namev]) => {
  const name = (await ctx.readCString(ptrArg(namev!), 4096)).toString('utf8');
  ctx.note = name;
  const value = ctx.session.env.get(name);
  if (value === undefined) return 0n;
  const key = `${name}=${value}`;
  let ptr = ctx.session.guestStrings.get(key);
  if (ptr === undefined) {
    ptr = await ctx.malloc(cString(value));
    ctx.session.guestStrings.set(key, ptr);
  }
  return ptr;
};

/** get_environ: a NULL-terminated `char*[]` of `NAME=value` strings, built once. */
export const getEnviron: Handler = async (ctx) => {
  if (ctx.session.environPtr !== undefined) return ctx.session.environPtr;
  const ptrs: bigint[] = [];
  for (const [k, v] of ctx.session.env) ptrs.push(await ctx.malloc(cString(`${k}=${v}`)));
  const table = Buffer.alloc(8 * (ptrs.length + 1));
  ptrs.forEach((p, k) => table.writeBigUInt64LE(p, 8 * k));
  ctx.session.environPtr = await ctx.malloc(table);
  return ctx.session.environPtr;
};

/** putenv/unsetenv change the virtual environment only; they are refused to keep it what the host set. */
export const initHome: Handler = (ctx) => ctx.malloc(cString(ctx.session.home));

export const initFree: Handler = (ctx, [ptrv]) => {
  const p = ptrArg(ptrv!);
  if (p !== 0n) ctx.free(p);
};

/** `_exit(status)`: recorded; the controller ends the guest and reports the status as its exit code. */
export const exit: Handler = (ctx, [statusv]) => {
  const status = typeof statusv === 'number' ? statusv & 0xff : Number(BigInt.asUintN(8, statusv as bigint));
  ctx.session.requestedExit = status;
  throw new ExitRequested(status);
};

export class ExitRequested extends Error {
  constructor(readonly status: number) {
    super(`guest called _exit(${status})`);
  }
}

/** umask: remembered so the guest sees its own previous value. */
export const umask: Handler = (ctx, [maskv]) => {
  const s = ctx.session as { umaskValue?: number };
  const prev = s.umaskValue ?? 0o022;
  s.umaskValue = intArg(maskv!, 'mask') & 0o777;
  return prev;
};

export const getpriority: Handler = () => 0;

/**
 * get_stdout: the guest's `FILE* stdout` as an opaque token (the guest only hands it back to
 * other proxied calls); fileno of that token is 1.
 */
const STDOUT_TOKEN = 0x10n;
export const getStdout: Handler = () => STDOUT_TOKEN;

export const fileno: Handler = (_ctx, [filev]) => {
  if (ptrArg(filev!) === STDOUT_TOKEN) return 1;
  throw new GuestErrno(Errno.EBADF, 'not a FILE* the controller handed out');
};
