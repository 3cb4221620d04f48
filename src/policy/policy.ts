import fs from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import { Errno } from '../platform/index.js';
import type { HostMountFilter } from '../vfs/host-mount.js';
import type { SourceKind } from '../vfs/types.js';

/** What the guest is trying to do to a name. */
export type Operation = 'stat' | 'read' | 'list' | 'write' | 'create' | 'delete' | 'exec';
export const OPERATIONS: readonly Operation[] = ['stat', 'read', 'list', 'write', 'create', 'delete', 'exec'];

export interface Target {
  vpath: string;
  source: SourceKind;
  /** The host file behind the name, when it is one. */
  hostPath?: string;
  /** Whether the mount lets the guest change this name at all. */
  writable: boolean;
}

export interface Decision {
  allow: boolean;
  op: Operation;
  vpath: string;
  /** errno the guest sees when denied. */
  errno: number;
  reason: string;
}

/** A host path the guest may read, shown at `at` (default: the same path). */
export interface ReadGrant extends HostMountFilter {
  hostPath: string;
  at: string;
  reason: string;
}

export interface Rule {
  effect: 'allow' | 'deny';
  /** Glob over virtual paths, e.g. `/data/secret/**`. */
  path: string;
  ops: readonly Operation[];
  reason: string;
}

interface CompiledRule extends Rule {
  match: (p: string) => boolean;
}

const SOURCE_NAMES: Record<SourceKind, string> = {
  memory: 'virtual file of the sandbox',
  overlay: 'writable in-memory tree',
  device: 'virtual device',
  host: 'host file',
};

const SLASH = 0x2f;

const READS: ReadonlySet<Operation> = new Set(['stat', 'read', 'list']);

/**
 * Deny by default. Grants whitelist host reads; rules (first match wins) refine by virtual path;
 * the controller's own in-memory files are readable and the writable trees writable. Every answer
 * carries the reason it was given.
 */
export class Policy {
  readonly grants: ReadGrant[] = [];
  private readonly rules: CompiledRule[] = [];

  /** An independent copy (a run adds the grants of its own tree to a copy, not to the caller's policy). */
  clone(): Policy {
    const p = new Policy();
    p.grants.push(...this.grants.map((g) => ({ ...g })));
    p.rules.push(...this.rules);
    return p;
  }

  /** Whitelists reading a host file or directory (and everything below it). */
  allowRead(hostPath: string, opts: Partial<Omit<ReadGrant, 'hostPath'>> = {}): this {
    const abs = path.resolve(hostPath);
    let real = abs;
    try {
      real = fs.realpathSync(abs);
    } catch {
      /* a grant for a path that does not exist yet grants nothing real */
    }
    this.grants.push({ ...opts, hostPath: real, at: opts.at ?? abs, reason: opts.reason ?? `read grant for ${abs}` });
    return this;
  }

  deny(pathGlob: string, ops: readonly Operation[] = OPERATIONS, reason = `denied by rule ${pathGlob}`): this {
    return this.rule({ effect: 'deny', path: pathGlob, ops, reason });
  }

  allow(
    pathGlob: string,
    ops: readonly Operation[] = ['stat', 'read', 'list'],
    reason = `allowed by rule ${pathGlob}`,
  ): this {
    return this.rule({ effect: 'allow', path: pathGlob, ops, reason });
  }

  rule(rule: Rule): this {
    this.rules.push({ ...rule, match: picomatch(rule.path, { dot: true }) });
    return this;
  }

  listRules(): readonly Rule[] {
    return this.rules.map(({ match: _m, ...r }) => r);
  }

  decide(op: Operation, t: Target): Decision {
    for (const r of this.rules) {
      if (!r.ops.includes(op) || !r.match(t.vpath)) continue;
      if (r.effect === 'deny') return deny(op, t, Errno.EACCES, r.reason);
      if (READS.has(op) || t.writable) return allow(op, t, r.reason);
    }
    if (op === 'exec') return deny(op, t, Errno.EACCES, 'no program may be executed in the sandbox');
    if (READS.has(op)) {
      if (t.hostPath === undefined) return allow(op, t, SOURCE_NAMES[t.source]);
      const g = this.grantFor(t.hostPath);
      if (g) return allow(op, t, `host ${t.hostPath} under ${g.reason}`);
      return deny(op, t, Errno.EACCES, `no read grant covers host ${t.hostPath}`);
    }
    if (!t.writable) {
      const why = t.source === 'host' ? 'host files are never written' : `${t.source} tree is read-only`;
      return deny(op, t, Errno.EROFS, why);
    }
    return allow(op, t, t.source === 'device' ? 'writes to a discarding device' : 'writable in-memory tree');
  }

  /** The reason of the grant that covers a host path, if one does. */
  grantReason(hostPath: string): string | undefined {
    return this.grantFor(hostPath)?.reason;
  }

  private grantFor(hostPath: string): ReadGrant | undefined {
    // The grant's path itself or a name below it; asked on every call, so no string is built.
    for (const g of this.grants) {
      const root = g.hostPath;
      if (!hostPath.startsWith(root)) continue;
      if (hostPath.length === root.length || root.endsWith('/') || hostPath.charCodeAt(root.length) === SLASH) return g;
    }
    return undefined;
  }
}

function allow(op: Operation, t: Target, reason: string): Decision {
  return { allow: true, op, vpath: t.vpath, errno: 0, reason };
}

function deny(op: Operation, t: Target, errno: number, reason: string): Decision {
  return { allow: false, op, vpath: t.vpath, errno, reason };
}
