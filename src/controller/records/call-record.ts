import type { CallContext } from '../../handlers/context.js';
import { Errno } from '../../platform/index.js';
import { MISSING_NAME, OWN_TREE, REPEATED_ANSWER, type DecodedCall } from '../../protocol/decoder.js';
import type { CallRecord } from '../../trace/trace.js';
import { OutsideError } from '../../vfs/vfs.js';

/** When a call came (µs since the run started), its number, and how long it took (µs). */
export interface CallTiming {
  seq: number;
  t: number;
  us: number;
}

/** What a record says of a call besides its signature and arguments; what is unknown is left out. */
export interface CallFacts {
  result: number | bigint | undefined;
  toGuest?: number;
  fromGuest?: number;
  path?: string;
  path2?: string;
  note?: string;
  /** 0: no errno. */
  errno?: number;
  allowed?: boolean;
  reason?: string;
}

/**
 * The one place a call's trace record is made, for every way a call is answered: by a handler
 * (answeredRecord), by the supervisor itself (reportedRecord), or refused by the supervisor
 * (the denial log's refusal).
 */
export function callRecord(
  call: { sig: string; args: (number | bigint)[] },
  timing: CallTiming,
  facts: CallFacts,
): CallRecord {
  const { seq, t, us } = timing;
  const rec: CallRecord = {
    type: 'call',
    seq,
    t,
    sig: call.sig,
    args: call.args,
    result: facts.result,
    toGuest: facts.toGuest ?? 0,
    fromGuest: facts.fromGuest ?? 0,
    us,
  };
  if (facts.path !== undefined) rec.path = facts.path;
  if (facts.path2 !== undefined) rec.path2 = facts.path2;
  if (facts.note !== undefined) rec.note = facts.note;
  if (facts.errno) rec.errno = facts.errno;
  if (facts.allowed !== undefined) rec.allowed = facts.allowed;
  if (facts.reason !== undefined) rec.reason = facts.reason;
  return rec;
}

/** µs between two hrtime readings. */
export function micros(from: bigint, to: bigint): number {
  return Number((to - from) / 1000n);
}

/**
 * A call a handler answered (or failed): its paths, note and byte counts from the call's context,
 * the policy's decision when one was made, else `reason`; `denied` for a refusal.
 */
export function answeredRecord(
  call: DecodedCall,
  ctx: CallContext,
  at: { seq: number; started: bigint; t0: bigint },
  result: number | bigint | undefined,
  errno: number,
  reason: string | undefined,
  denied: boolean,
): CallRecord {
  const d = ctx.decision;
  const timing = { seq: at.seq, t: micros(at.started, at.t0), us: micros(at.t0, process.hrtime.bigint()) };
  return callRecord({ sig: call.sig.text, args: call.args }, timing, {
    result,
    toGuest: ctx.bytesToGuest,
    fromGuest: ctx.bytesFromGuest,
    path: ctx.path,
    path2: ctx.path2,
    note: ctx.note,
    errno,
    allowed: denied ? false : d?.allow,
    reason: d ? d.reason : reason || undefined,
  });
}

/** A call the supervisor answered itself, from its report; `grant`: the delegated grant that answered. */
export function reportedRecord(
  call: DecodedCall,
  seq: number,
  started: bigint,
  grant: { hostPath: string; reason: string } | undefined,
  /** A relayed sandboxed PyPy's report (its close is the supervisor's answer, not the kernel's). */
  relayed = false,
): CallRecord {
  const r = call.report!;
  const path = call.strings?.values().next().value ?? undefined;
  const native = call.sig.text === 'close(i)i' && !relayed;
  const shown = path ? path.toString('utf8') : undefined;
  // The paths the supervisor read from guest memory (what the guest wrote back is not counted).
  let fromGuest = 0;
  for (const s of call.strings?.values() ?? []) fromGuest += s?.length ?? 0;
  return callRecord(
    { sig: call.sig.text, args: call.args },
    { seq, t: micros(started, r.startNs), us: Math.round(r.spentNs / 1000) },
    {
      result: native
        ? undefined
        : r.result >= BigInt(Number.MIN_SAFE_INTEGER) && r.result <= BigInt(Number.MAX_SAFE_INTEGER)
          ? Number(r.result)
          : r.result,
      note: 'answered by the supervisor',
      path: shown,
      fromGuest,
      errno: r.errno,
      ...reportedVerdict(call, grant, shown, native),
    },
  );
}

/** Why the supervisor's answer was what it was, as the controller would have said it. */
function reportedVerdict(
  call: DecodedCall,
  grant: { hostPath: string; reason: string } | undefined,
  path: string | undefined,
  native: boolean,
): Pick<CallFacts, 'allowed' | 'reason'> {
  const r = call.report!;
  const missing = r.grant === MISSING_NAME;
  if (native) return { reason: 'runs natively' };
  if (call.sig.text === 'getdents64(ipi)i') return { reason: 'from the listing made when the directory was opened' };
  if (missing && r.errno === Errno.EACCES) return { allowed: false, reason: new OutsideError(r.hostPath).reason };
  if (missing) return { reason: `${r.hostPath} does not exist` };
  if (r.grant === OWN_TREE) return { allowed: true, reason: 'virtual file of the sandbox' };
  if (r.grant === REPEATED_ANSWER)
    return { allowed: true, reason: 'the last answer for this name, repeated: no call since could have changed it' };
  if (grant && r.errno !== Errno.ENOENT)
    return { allowed: true, reason: `host ${r.hostPath || grant.hostPath} under ${grant.reason}` };
  if (r.errno === Errno.ENOENT) return { reason: `${path ?? 'the name'} does not exist` };
  return {};
}
