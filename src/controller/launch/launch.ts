import type { StockProfile } from '../../guest/profile.js';
import type { Session } from '../../kernel/session.js';
import type { VirtualFS } from '../../vfs/vfs.js';
import { delegate, hostDevices, listsLocally, reportableCalls, type Delegation } from '../../supervisor/delegation.js';
import type { HandlerTable } from '../dispatch/handler-table.js';
import type { ControllerOptions, Limits } from '../options.js';
import { answerCacheKey, cachedAnswers, configurationBytes, rememberAnswers } from './answer-cache.js';
import { relayConfiguration } from '../../supervisor/relay.js';
import { guestCommand, relaysCalls, type GuestCommand } from './command.js';
import { spawnGuest, type GuestTransport } from './spawn.js';

/**
 * Starting the guest: its command line, the supervisor started early (a stock guest's, while the
 * filesystem is still being built), and the local answers the supervisor is configured with.
 */
export class Launch {
  /** The supervisor started before the filesystem was built (stock guests), or why it could not be. */
  private early: GuestTransport | undefined;
  earlyError: Error | undefined;
  /** The configuration went out with the early start (local answers reused from the cache). */
  private configSent = false;
  /** Recipe of this run's local answers (computed before the tree is built), if reusable. */
  private key: string | undefined;
  /** What the supervisor answers itself (stock guests; see src/supervisor/delegation.ts). */
  delegation: Delegation | undefined;
  /** Signatures the supervisor may report answering itself (from the delegation, once known). */
  private reportable: ReadonlySet<string> | undefined;
  /** The guest was started by the supervisor, which tells its walls before the guest runs. */
  supervised = false;
  /** A sandboxed PyPy whose conversation the supervisor relays (src/supervisor/relay.ts): see relayFor. */
  relayed = false;

  constructor(
    private readonly o: ControllerOptions,
    private readonly limits: Limits,
    private readonly stock: StockProfile | undefined,
    private readonly handlers: HandlerTable,
  ) {}

  /** Whether a sandboxed PyPy's conversation goes through its supervisor, decided from its tree. */
  relayFor(vfs: VirtualFS): void {
    this.relayed = !this.stock && !this.early && relaysCalls(this.o, vfs);
  }

  /**
   * A stock guest's supervisor starts first: it starts the interpreter while the filesystem is
   * built, and waits for the local-answer configuration before serving any call.
   */
  startEarly(): void {
    const o = this.o;
    if (!this.stock || o.transport || o.signal?.aborted) return;
    try {
      const cmd = guestCommand(o, this.limits, this.stock);
      this.supervised = cmd.supervised ?? false;
      this.early = spawnGuest(cmd.file, cmd.args, cmd.argv0, cmd.env, cmd.supervised, o.spareSupervisor !== false);
      // The same recipe as a recent run: its local answers go out now, before the tree is built.
      const key = (this.key = answerCacheKey(o, this.limits, this.stock, this.handlers.replaced));
      const hit = cachedAnswers(key);
      if (hit) {
        this.delegation = hit.delegation;
        this.configSent = true;
        this.early.stdin.write(configurationBytes(hit.words));
      }
    } catch (err) {
      this.earlyError = err as Error;
    }
  }

  /** Ends a guest started early that will not run (a run stopped before its start). */
  abandon(): void {
    this.early?.kill();
  }

  /** The command still to execute; undefined when the guest was started early or comes from `transport`. */
  command(): GuestCommand | undefined {
    return this.o.transport || this.early ? undefined : guestCommand(this.o, this.limits, this.stock, this.relayed);
  }

  /** The guest, started now unless it already was. */
  transport(cmd: GuestCommand | undefined): GuestTransport {
    if (this.early) return this.early;
    if (this.o.transport) return this.o.transport();
    this.supervised = cmd!.supervised ?? false;
    return spawnGuest(cmd!.file, cmd!.args, cmd!.argv0, cmd!.env, cmd!.supervised, this.o.spareSupervisor !== false);
  }

  /** Whether the supervisor still waits for its configuration (a stock guest it was not sent to early). */
  needsConfiguration(): boolean {
    return (this.stock !== undefined || this.relayed) && !this.o.transport && !this.configSent;
  }

  /**
   * What the supervisor may answer itself, sent as its configuration (u32 length, NUL-terminated
   * words): decided now that the filesystem exists.
   */
  configuration(session: Session): Buffer {
    const { vfs, policy } = session.files;
    const anyTerminal = Object.values(session.isatty).some(Boolean);
    if (this.relayed) {
      // The handlers replaced are the PyPy table's: the system calls' delegation knows none of them.
      this.delegation = delegate(
        vfs,
        policy,
        new Set(),
        session.identity,
        session.platform,
        this.limits.pathLength,
        anyTerminal,
        session.files.getcwd(),
        true,
      );
      const relay = relayConfiguration(this.handlers.replaced, session, this.limits, this.delegation);
      this.reportable = relay.reportable;
      session.relayListings = relay.listings;
      session.relayFiles = relay.files;
      return configurationBytes(relay.words);
    }
    if (this.o.localAnswers !== false) {
      this.delegation = delegate(
        vfs,
        policy,
        this.handlers.replaced,
        session.identity,
        session.platform,
        this.limits.pathLength,
        anyTerminal,
        session.files.getcwd(),
      );
    }
    session.localListings = this.listsLocally();
    // Host files behind real descriptors are described as their names are (every run).
    const words = [...(this.delegation?.args ?? []), ...hostDevices(vfs)];
    if (this.key !== undefined) rememberAnswers(this.key, this.delegation, words);
    return configurationBytes(words);
  }

  /** Whether directory opens send their listing along for the supervisor to answer getdents64. */
  listsLocally(): boolean {
    return listsLocally(this.delegation);
  }

  /** Signatures the supervisor may report answering itself. */
  reportableCalls(): ReadonlySet<string> {
    this.reportable ??= reportableCalls(this.delegation);
    return this.reportable;
  }
}
