import type { Decision } from '../../policy/policy.js';
import type { Note } from '../../supervisor/notes.js';
import type { CallFacts } from '../records/call-record.js';
import type { DeniedCall } from '../result.js';

/** Distinct denials kept in `denied`; every denial past them is still counted in `denials`. */
export const MAX_DENIED_KEPT = 100;

/** Why the supervisor refuses a call, by the call's name (refusals.h reports the name). */
const REFUSAL_REASONS: [string[], string][] = [
  [
    [
      'socket',
      'socketpair',
      'connect',
      'accept',
      'accept4',
      'bind',
      'listen',
      'sendto',
      'recvfrom',
      'sendmsg',
      'sendmmsg',
      'recvmsg',
      'recvmmsg',
      'shutdown',
      'getsockname',
      'getpeername',
      'setsockopt',
      'getsockopt',
    ],
    'no network in the sandbox',
  ],
  [['execve', 'execveat'], 'no program runs in the sandbox but the interpreter it started'],
  [['fork', 'vfork', 'clone'], 'no new processes in the sandbox (threads only)'],
  [['kill', 'tgkill', 'tkill', 'rt_sigqueueinfo', 'pidfd_send_signal'], 'signals go only to the guest itself'],
  [['prlimit64'], "the sandbox sets the guest's limits; they may be read, not changed"],
  [
    ['ptrace', 'process_vm_readv', 'process_vm_writev', 'kcmp', 'pidfd_open', 'pidfd_getfd'],
    'no access to other processes',
  ],
];
const REASON_BY_CALL = new Map(
  REFUSAL_REASONS.flatMap(([calls, reason]) => calls.map((call) => [call, reason] as const)),
);

function refusalReason(call: string): string {
  return REASON_BY_CALL.get(call) ?? `${call} is forbidden in the sandbox`;
}

/**
 * The run's denials: every one counted, the first MAX_DENIED_KEPT distinct ones kept with their
 * reasons and how often each came (a guest looping on a refused call makes one entry).
 */
export class DenialLog {
  count = 0;
  readonly kept: DeniedCall[] = [];
  private readonly byKey = new Map<string, DeniedCall>();

  /** Counts a denial `times` times; whether it was of a kind seen before. */
  add(entry: Omit<DeniedCall, 'count'>, times = 1): boolean {
    this.count += times;
    const key = JSON.stringify([entry.sig, entry.op, entry.path, entry.errno, entry.reason, entry.detail ?? null]);
    const known = this.byKey.get(key);
    if (known) {
      known.count += times;
      return true;
    }
    if (this.kept.length >= MAX_DENIED_KEPT) return false;
    const kept: DeniedCall = { ...entry, count: times };
    this.kept.push(kept);
    this.byKey.set(key, kept);
    return false;
  }

  /** A refusal of the policy (or of a name outside the sandbox's filesystem). */
  decision(sig: string, d: Decision): void {
    this.add({ sig, op: d.op, path: d.vpath, errno: d.errno, reason: d.reason });
  }

  /**
   * A call the supervisor refused (a `refused` note): counted, kept, and returned as what its
   * trace record says (see callRecord). `refused-more` notes are only counted.
   */
  refusal(
    note: Extract<Note, { kind: 'refused' | 'refused-more' }>,
  ): { sig: string; args: []; facts: CallFacts } | undefined {
    if (note.kind === 'refused-more') {
      this.count += note.count;
      return undefined;
    }
    const reason = refusalReason(note.call);
    const path = note.call.startsWith('exec') && note.detail.startsWith('path=') ? note.detail.slice(5) : '';
    const detail = note.detail === '-' ? undefined : note.detail;
    const repeated = this.add(
      { sig: note.call, op: 'call', path, errno: note.errno, reason, ...(detail ? { detail } : {}) },
      note.count,
    );
    const facts: CallFacts = {
      result: -1,
      errno: note.errno,
      allowed: false,
      reason,
      note: [detail, 'refused by the supervisor', repeated ? `repeated ${note.count} more time(s)` : undefined]
        .filter(Boolean)
        .join('; '),
    };
    return { sig: `${note.call}()i`, args: [], facts };
  }
}
