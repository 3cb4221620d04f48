import { MISSING_NAME, OWN_TREE, REPEATED_ANSWER, type ArgValue, type DecodedCall } from '../protocol/decoder.js';
import { ProtocolError } from '../protocol/errors.js';
import { Errno } from '../platform/errno.js';
import { GRANT, LIMITS } from './contract/contract.js';

/**
 * Reports of calls the supervisor answered itself (docs/protocol.md, "Local answers") are read
 * like guest input: each must be a call the controller handed over, with an errno, a result, a
 * grant and descriptor numbers that make sense. Anything else is a protocol error.
 */

const MAX_ERRNO = LIMITS.maxErrno;
/** Grant values that name no grant (see CallReport.grant). */
const NO_GRANT = GRANT.none;
const GRANT_SENTINELS: ReadonlySet<number> = new Set([NO_GRANT, MISSING_NAME, REPEATED_ANSWER, OWN_TREE]);

/** Reportable calls whose first argument is a descriptor (a C int, sign-extended). */
const DESCRIPTOR_FIRST: ReadonlySet<string> = new Set([
  'close',
  'getdents64',
  'fstat',
  'lseek',
  'ioctl',
  'newfstatat',
  'openat',
  'faccessat',
  'faccessat2',
  'readlinkat',
  // a relayed sandboxed PyPy's host files
  'read',
  'fstat64',
]);

/**
 * Calls that make a descriptor: the supervisor counts every descriptor of the guest and refuses
 * these itself at the open-file limit (EMFILE, no grant), whatever it was handed.
 */
const REFUSED_AT_FD_LIMIT: ReadonlySet<string> = new Set(['open', 'openat', 'creat', 'fcntl', 'dup', 'dup2', 'dup3']);

function isFdLimitRefusal(call: DecodedCall): boolean {
  const r = call.report!;
  return REFUSED_AT_FD_LIMIT.has(call.sig.name) && r.errno === Errno.EMFILE && r.result === -1n && r.grant === NO_GRANT;
}

/** Calls whose result is a byte count bounded by one argument (its index): the buffer's size. */
const COUNT_ARG: Readonly<Record<string, number>> = {
  'getdents64(ipi)i': 2,
  'getrandom(pii)i': 1,
  'readlink(ppi)i': 2,
  'readlinkat(ippi)i': 3,
  'getcwd(pi)i': 1,
  'read(ipi)i': 2,
};

function isCInt(v: ArgValue | undefined): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
}

/** A count argument as the kernel reads it (a size_t, or an unsigned int for getdents64). */
function countOf(sig: string, v: ArgValue): bigint {
  const n = typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
  return sig === 'getdents64(ipi)i' ? BigInt.asUintN(32, n) : BigInt.asUintN(64, n);
}

function bad(call: DecodedCall, problem: string): ProtocolError {
  return new ProtocolError('bad-report', `report from the supervisor of ${call.sig.text}: ${problem}`);
}

/**
 * Throws ProtocolError unless the report is one the supervisor may send: `allowed` holds the
 * signatures it was handed (see reportableCalls), `grants` how many grants it was given.
 */
export function checkReport(call: DecodedCall, allowed: ReadonlySet<string>, grants: number): void {
  const r = call.report!;
  const sig = call.sig.text;
  if (!allowed.has(sig) && !isFdLimitRefusal(call)) throw bad(call, 'a call it was not handed to answer');
  if (!Number.isInteger(r.errno) || r.errno < 0 || r.errno > MAX_ERRNO)
    throw bad(call, `errno ${r.errno} out of range`);
  if (r.errno !== 0 && r.result !== -1n)
    throw bad(call, `result ${r.result} with errno ${r.errno} (a failure returns -1)`);
  if (r.errno === 0 && (r.result < 0n || r.result > BigInt(Number.MAX_SAFE_INTEGER)))
    throw bad(call, `result ${r.result} out of range`);
  if (r.grant >= grants || (r.grant < 0 && !GRANT_SENTINELS.has(r.grant)))
    throw bad(call, `grant ${r.grant} (it was given ${grants})`);
  if (DESCRIPTOR_FIRST.has(call.sig.name) && !isCInt(call.args[0]))
    throw bad(call, `descriptor ${String(call.args[0])} is not a C int`);
  const countArg = COUNT_ARG[sig];
  if (countArg !== undefined && r.result > countOf(sig, call.args[countArg]!))
    throw bad(call, `result ${r.result} exceeds the count ${String(call.args[countArg])}`);
}
