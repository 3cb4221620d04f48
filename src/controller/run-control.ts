import type { GuestChannel } from '../protocol/channel.js';
import type { GuestTransport } from './launch/spawn.js';
import type { SandboxErrorKind } from './result.js';

/** Why the controller ended a run before the guest did. */
export interface Ending {
  kind: SandboxErrorKind;
  error: Error;
}

/**
 * The run's hold on its guest, shared by every phase: ending the guest, and remembering why. Once
 * the guest is killed or the run is wound up, answers still in flight are dropped.
 */
export class RunControl {
  /** Aborted when the run is over: handlers still waiting (for input, say) give up. */
  readonly abort = new AbortController();
  child: GuestTransport | undefined;
  channel: GuestChannel | undefined;
  /** The first reason the controller ended the run for (protocol, refused call, abort, internal). */
  ending: Ending | undefined;
  killedByUs = false;
  /** The run has been wound up: answers still in flight are dropped. */
  over = false;

  /** No more answers go to the guest. */
  get stopped(): boolean {
    return this.killedByUs || this.over;
  }

  kill(): void {
    this.killedByUs = true;
    this.channel?.close();
    this.child?.kill();
  }

  fatal(kind: SandboxErrorKind, error: Error): void {
    if (!this.ending) this.ending = { kind, error };
    this.kill();
  }
}
