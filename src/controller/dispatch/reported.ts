import type { Session } from '../../kernel/session.js';
import { ACCESS, Errno, SEEK } from '../../platform/index.js';
import { MISSING_NAME, type DecodedCall } from '../../protocol/decoder.js';
import { ProtocolError } from '../../protocol/errors.js';
import { checkReport } from '../../supervisor/reports.js';
import { OutsideError } from '../../vfs/vfs.js';
import type { Launch } from '../launch/launch.js';
import { reportedRecord } from '../records/call-record.js';
import type { Recorder } from '../records/recorder.js';
import type { Dispatcher } from './dispatcher.js';

/** The policy operation a reported call stands for (as the Linux handlers would decide it). */
function reportedOp(call: DecodedCall): 'stat' | 'read' {
  const name = call.sig.name;
  if (name === 'open' || name === 'openat') return 'read';
  if (name === 'access') return (Number(call.args[1]) & ACCESS.R_OK) !== 0 ? 'read' : 'stat';
  if (name === 'faccessat' || name === 'faccessat2')
    return (Number(call.args[2]) & ACCESS.R_OK) !== 0 ? 'read' : 'stat';
  return 'stat';
}

/**
 * Calls the supervisor answered itself (stock guests, local answers): checked like guest input,
 * then counted, kept in step with the controller's tables, and recorded like any other call.
 */
export class SupervisorReports {
  constructor(
    private readonly calls: Dispatcher,
    private readonly launch: Launch,
    private readonly session: Session,
    private readonly records: Recorder,
  ) {}

  reported(call: DecodedCall): void {
    // Checked like guest input: a bad report is a protocol error (thrown to the channel).
    checkReport(call, this.launch.reportableCalls(), this.launch.delegation?.grants.length ?? 0);
    this.calls.calls++;
    const r = call.report!;
    // A close the kernel did: the descriptor leaves the controller's table too, before any later call.
    if (call.sig.text === 'close(i)i') this.session.files.drop(call.args[0] as number);
    // A listing answered from the records sent at open: the descriptor's position moves the same way.
    const listed = call.sig.text === 'getdents64(ipi)i';
    if (listed && r.result > 0n) this.advanceListing(call.args[0] as number, call.args[2]!, Number(r.result));
    // readdir from the listing sent with opendir (a relayed sandboxed PyPy): the stream moves on too.
    if (this.launch.relayed) this.relayedMoves(call);
    if (r.grant === MISSING_NAME && r.errno === Errno.EACCES) {
      // Outside the sandbox's filesystem: a denial, counted like the controller's own.
      this.calls.currentSig = call.sig.text;
      this.calls.onDecision({
        allow: false,
        op: reportedOp(call),
        vpath: r.hostPath,
        errno: r.errno,
        reason: new OutsideError(r.hostPath).reason,
      });
    }
    if (!this.records.on) return;
    const grant = r.grant >= 0 ? this.launch.delegation?.grants[r.grant] : undefined;
    this.records.call(reportedRecord(call, this.calls.calls, this.records.started, grant, this.launch.relayed));
  }

  /** What a relayed sandboxed PyPy's supervisor answered moves the controller's streams and positions too. */
  private relayedMoves(call: DecodedCall): void {
    const r = call.report!;
    if (call.sig.text === 'readdir(p)p') this.advanceStream(call.args[0] as bigint, r.result);
    if (call.sig.text === 'read(ipi)i') this.movePosition(call, Number(r.result), SEEK.SEEK_CUR);
    if (call.sig.text === 'lseek(iii)i') this.movePosition(call, Number(r.result), SEEK.SEEK_SET);
  }

  private movePosition(call: DecodedCall, offset: number, whence: number): void {
    try {
      this.session.files.lseek(call.args[0] as number, offset, whence);
    } catch (err) {
      throw new ProtocolError(
        'bad-report',
        `report from the supervisor of ${call.sig.text}: ${(err as Error).message}`,
      );
    }
  }

  /** The supervisor answered readdir from a stream's listing: the controller's stream moves the same way. */
  private advanceStream(dir: bigint, result: bigint): void {
    let next: unknown;
    try {
      next = this.session.files.readdir(dir);
    } catch (err) {
      throw new ProtocolError('bad-report', `report from the supervisor of readdir(p)p: ${(err as Error).message}`);
    }
    if ((next === null) !== (result === 0n) || (result !== 0n && result !== dir))
      throw new ProtocolError(
        'bad-report',
        `report from the supervisor of readdir(p)p: ${result} is not the stream's next entry`,
      );
  }

  /** The supervisor answered getdents64 from a listing: one the controller sent, packed as it would. */
  private advanceListing(fd: number, count: number | bigint, answered: number): void {
    try {
      // The kernel reads the count as an unsigned int.
      this.session.files.advanceListing(fd, Number(BigInt.asUintN(32, BigInt(count))), answered);
    } catch (err) {
      throw new ProtocolError(
        'bad-report',
        `report from the supervisor of getdents64(ipi)i: ${(err as Error).message}`,
      );
    }
  }
}
