import type { StatInfo } from '../platform/index.js';

/** What a mount reports about one name, without following it if it is a symlink. */
export interface NodeInfo {
  stat: StatInfo;
  /** Set for symlinks: the link text, to be resolved by the VFS walker (never by the host). */
  linkTarget?: string;
  /** A directory that only leads to a nested mount: nothing backs it. */
  synthetic?: true;
  /**
   * Where the mount that returned this node keeps it (a memfs link, an overlay's layers): the next
   * step of a walk starts there instead of walking from the mount's root again. Private to that mount.
   */
  readonly place?: unknown;
}

export interface DirEntry {
  name: string;
  ino: number;
  /** `d_type` value (DT_DIR, DT_REG, ...). */
  type: number;
}

/** An open file's storage. Positions are kept by the descriptor table, so every access is positional. */
export interface FileHandle {
  read(buf: Buffer, offset: number, length: number, position: number): number;
  /**
   * The bytes at `position` (at most `length`) without copying them, for a file the guest cannot
   * change (a read-only tree): the answer carrying them is written out before the guest's next
   * call. Undefined where that does not hold; read() then copies.
   */
  view?(length: number, position: number): Buffer | undefined;
  write(data: Buffer, position: number): number;
  truncate(length: number): void;
  stat(): StatInfo;
  close(): void;
  /**
   * A read-only regular host file: its host path (as its descriptor named it at open), the device
   * number its stat shows, and its host identity, for the supervisor to read it itself.
   */
  hostFile?(): HostFileIdentity | undefined;
}

export interface HostFileIdentity {
  path: string;
  /** Device number the guest sees (the mount's). */
  dev: number;
  hostDev: bigint;
  ino: bigint;
}

export interface OpenRequest {
  read: boolean;
  write: boolean;
  create: boolean;
  exclusive: boolean;
  truncate: boolean;
  mode: number;
}

/** Where a resolved name lives; the policy decides on this, the mount acts on it. */
export type SourceKind = 'memory' | 'host' | 'overlay' | 'device';

/**
 * A subtree of the virtual filesystem. `rel` is the path below the mount point as components, with
 * `.`/`..` already resolved and every earlier component known to be a directory.
 */
export interface Mount {
  readonly source: SourceKind;
  lookup(rel: readonly string[]): NodeInfo | null;
  /**
   * One step of a walk: the same answer as `lookup(rel)`, given `parent`, the node this mount
   * returned for `rel` without its last component (a directory the walk already checked). Costs
   * one component, not the whole of `rel`, so a walk stays linear in the path's length. `rel` is
   * only read during the call.
   */
  step(parent: NodeInfo, rel: readonly string[]): NodeInfo | null;
  list(rel: readonly string[]): DirEntry[];
  open(rel: readonly string[], req: OpenRequest, existing: NodeInfo | null): FileHandle;
  /**
   * The host file behind `rel`, for policy decisions on host sources. `node`: what this mount's
   * lookup or step gave for `rel` just now, when the caller has it (saves finding it again).
   */
  hostPath(rel: readonly string[], node?: NodeInfo | null): string | undefined;
  /** Whether the guest may change `rel` here at all (the policy still decides). */
  writable(rel: readonly string[]): boolean;
  /** For host mounts: maps a symlink's absolute host target to components below the mount, or null if outside. */
  hostTargetToRel?(target: string): string[] | null;
  mkdir?(rel: readonly string[], mode: number): void;
  rmdir?(rel: readonly string[]): void;
  unlink?(rel: readonly string[]): void;
  rename?(from: readonly string[], to: readonly string[]): void;
  symlink?(rel: readonly string[], target: string): void;
}

/** A name resolved to the mount that holds it. `node` is null when the last component does not exist. */
export interface Resolved {
  parts: string[];
  vpath: string;
  mount: Mount;
  mountPoint: string[];
  rel: string[];
  node: NodeInfo | null;
}

/**
 * What the code that reads a built tree needs of it (exportTree, SupervisorView): the walk, whole
 * files and the mount table. The VirtualFS is one; naming only this keeps those modules below it.
 */
export interface WalkedTree {
  resolve(path: string, cwd: readonly string[], follow: boolean): Resolved;
  readFile(vpath: string): Buffer;
  mountTable(): { at: string; mount: Mount }[];
}

/** Names hidden wherever they appear: exactly these, or ending with one of these. */
export interface NameRules {
  names: string[];
  suffixes: string[];
}
