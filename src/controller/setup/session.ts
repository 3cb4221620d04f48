import type { StockProfile } from '../../guest/profile.js';
import { FileTable } from '../../kernel/files.js';
import { Clock, type Identity, type Session } from '../../kernel/session.js';
import { hostPlatform } from '../../platform/index.js';
import type { Decision, Policy } from '../../policy/policy.js';
import type { VirtualFS } from '../../vfs/vfs.js';
import { sessionLimits } from '../limits/command-line.js';
import type { ControllerOptions, Limits } from '../options.js';
import { DEFAULT_ARGV0, sandboxedEnv } from './filesystem.js';

const DEFAULT_IDENTITY: Identity = {
  uid: 1000,
  gid: 1000,
  euid: 1000,
  egid: 1000,
  pid: 4200,
  ppid: 4199,
  hostname: 'sandbox',
};

/** The identity the guest is shown: the defaults with the option's fields; effective ids follow real ones given alone. */
function guestIdentity(o: ControllerOptions): Identity {
  const identity: Identity = { ...DEFAULT_IDENTITY, ...o.identity };
  if (o.identity?.uid !== undefined && o.identity.euid === undefined) identity.euid = o.identity.uid;
  if (o.identity?.gid !== undefined && o.identity.egid === undefined) identity.egid = o.identity.gid;
  return identity;
}

/** The run's descriptor table over its filesystem; every policy decision goes to `onDecision`. */
export function fileTable(
  o: ControllerOptions,
  limits: Limits,
  vfs: VirtualFS,
  policy: Policy,
  onDecision: (d: Decision) => void,
): FileTable {
  const platform = o.platform ?? hostPlatform();
  return new FileTable(
    vfs,
    policy,
    platform.open,
    { maxOpenFiles: limits.openFiles, maxOpenDirs: limits.openDirs },
    o.cwd ?? '/tmp',
    onDecision,
  );
}

/**
 * The per-run state the handlers work on: descriptors, environment, identity, clock, platform,
 * limits and the standard streams (from stdio/streams.ts).
 */
export function buildSession(
  o: ControllerOptions,
  limits: Limits,
  stock: StockProfile | undefined,
  files: FileTable,
  stdio: Pick<Session, 'stdin' | 'stdout' | 'stderr' | 'isatty' | 'terminal'>,
  signal: AbortSignal,
  localListings: boolean,
): Session {
  return {
    files,
    env: new Map(Object.entries(stock ? (o.env ?? {}) : sandboxedEnv(o.env))),
    identity: guestIdentity(o),
    clock: new Clock(o.clock),
    platform: o.platform ?? hostPlatform(),
    limits: sessionLimits(limits, stock !== undefined),
    ...stdio,
    home: stock ? stock.argv0 : (o.argv0 ?? DEFAULT_ARGV0),
    guestStrings: new Map(),
    environPtr: undefined,
    requestedExit: undefined,
    signal,
    localListings,
  };
}
