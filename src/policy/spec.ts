import fs from 'node:fs';
import { OPERATIONS, Policy, type Operation } from './policy.js';

/** A policy as written in a JSON file (`--policy FILE`). */
export interface PolicySpec {
  /** Host paths the guest may read: a path (shown at the same virtual path) or a mount description. */
  allowRead?: (string | ReadSpec)[];
  /** Rules over virtual paths, checked in order before the defaults. */
  rules?: RuleSpec[];
  /** The writable in-memory /tmp. */
  tmp?: { quota?: number | string; from?: string };
  /** Virtual environment of the guest. */
  env?: Record<string, string>;
}

export interface ReadSpec {
  path: string;
  at?: string;
  include?: string[];
  exclude?: string[];
  dotfiles?: boolean;
}

export interface RuleSpec {
  effect: 'allow' | 'deny';
  path: string;
  ops?: Operation[];
  reason?: string;
}

/** A policy file or flag that does not say what it should; `field` names the culprit. */
export class PolicySpecError extends Error {
  override readonly name = 'PolicySpecError';
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
  }
}

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(v: Record<string, Json>, allowed: string[], field: string): void {
  for (const k of Object.keys(v)) {
    if (!allowed.includes(k))
      throw new PolicySpecError(`${field}.${k}`, `unknown field (expected one of ${allowed.join(', ')})`);
  }
}

function str(v: Json, field: string): string {
  if (typeof v !== 'string' || v.length === 0) throw new PolicySpecError(field, 'expected a non-empty string');
  if (v.includes('\0')) throw new PolicySpecError(field, 'contains a NUL byte');
  return v;
}

function absPath(v: Json, field: string): string {
  const s = str(v, field);
  if (!s.startsWith('/')) throw new PolicySpecError(field, `expected an absolute path, got ${JSON.stringify(s)}`);
  return s;
}

function strList(v: Json, field: string): string[] {
  if (!Array.isArray(v)) throw new PolicySpecError(field, 'expected an array of strings');
  return v.map((x, k) => str(x, `${field}[${k}]`));
}

const SIZE = /^(\d+)\s*([kmg]i?b?|b)?$/i;

/** Parses `123`, `64k`, `64m`, `1g` (binary units). */
export function parseSize(v: Json, field: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const m = SIZE.exec(v.trim());
    if (m) {
      const unit = (m[2] ?? 'b')[0]!.toLowerCase();
      const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
      const n = Number(m[1]) * mult;
      if (Number.isSafeInteger(n)) return n;
    }
  }
  throw new PolicySpecError(field, `expected a size such as 65536, "64k", "64m" or "1g", got ${JSON.stringify(v)}`);
}

/** Validates parsed JSON as a PolicySpec; every problem names its field. */
export function validatePolicySpec(raw: Json, field = 'policy'): PolicySpec {
  if (!isObject(raw)) throw new PolicySpecError(field, 'expected a JSON object');
  checkKeys(raw, ['allowRead', 'rules', 'tmp', 'env'], field);
  const spec: PolicySpec = {};
  if (raw.allowRead !== undefined) {
    if (!Array.isArray(raw.allowRead)) throw new PolicySpecError(`${field}.allowRead`, 'expected an array');
    spec.allowRead = raw.allowRead.map((e, k) => {
      const f = `${field}.allowRead[${k}]`;
      if (typeof e === 'string') return absPath(e, f);
      if (!isObject(e)) throw new PolicySpecError(f, 'expected a path or an object');
      checkKeys(e, ['path', 'at', 'include', 'exclude', 'dotfiles'], f);
      const r: ReadSpec = { path: absPath(e.path, `${f}.path`) };
      if (e.at !== undefined) r.at = absPath(e.at, `${f}.at`);
      if (e.include !== undefined) r.include = strList(e.include, `${f}.include`);
      if (e.exclude !== undefined) r.exclude = strList(e.exclude, `${f}.exclude`);
      if (e.dotfiles !== undefined) {
        if (typeof e.dotfiles !== 'boolean') throw new PolicySpecError(`${f}.dotfiles`, 'expected true or false');
        r.dotfiles = e.dotfiles;
      }
      return r;
    });
  }
  if (raw.rules !== undefined) {
    if (!Array.isArray(raw.rules)) throw new PolicySpecError(`${field}.rules`, 'expected an array');
    spec.rules = raw.rules.map((e, k) => {
      const f = `${field}.rules[${k}]`;
      if (!isObject(e)) throw new PolicySpecError(f, 'expected an object');
      checkKeys(e, ['effect', 'path', 'ops', 'reason'], f);
      if (e.effect !== 'allow' && e.effect !== 'deny')
        throw new PolicySpecError(`${f}.effect`, 'expected "allow" or "deny"');
      const r: RuleSpec = { effect: e.effect, path: absPath(e.path, `${f}.path`) };
      if (e.ops !== undefined) {
        r.ops = strList(e.ops, `${f}.ops`).map((op, j) => {
          if (!OPERATIONS.includes(op as Operation))
            throw new PolicySpecError(
              `${f}.ops[${j}]`,
              `unknown operation ${JSON.stringify(op)} (expected ${OPERATIONS.join(', ')})`,
            );
          return op as Operation;
        });
      }
      if (e.reason !== undefined) r.reason = str(e.reason, `${f}.reason`);
      return r;
    });
  }
  if (raw.tmp !== undefined) {
    const f = `${field}.tmp`;
    if (!isObject(raw.tmp)) throw new PolicySpecError(f, 'expected an object');
    checkKeys(raw.tmp, ['quota', 'from'], f);
    spec.tmp = {};
    if (raw.tmp.quota !== undefined) spec.tmp.quota = parseSize(raw.tmp.quota, `${f}.quota`);
    if (raw.tmp.from !== undefined) spec.tmp.from = absPath(raw.tmp.from, `${f}.from`);
  }
  if (raw.env !== undefined) {
    const f = `${field}.env`;
    if (!isObject(raw.env)) throw new PolicySpecError(f, 'expected an object of strings');
    spec.env = {};
    for (const [k, v] of Object.entries(raw.env)) {
      if (k.includes('=') || k.includes('\0') || k === '')
        throw new PolicySpecError(`${f}.${k}`, 'invalid variable name');
      if (typeof v !== 'string') throw new PolicySpecError(`${f}.${k}`, 'expected a string');
      spec.env[k] = v;
    }
  }
  return spec;
}

export function loadPolicyFile(file: string): PolicySpec {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new PolicySpecError('--policy', `cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: Json;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PolicySpecError('--policy', `${file} is not valid JSON: ${(err as Error).message}`);
  }
  return validatePolicySpec(raw, 'policy');
}

/** Builds (or extends) a Policy from a spec. */
export function policyFromSpec(spec: PolicySpec, policy = new Policy()): Policy {
  for (const e of spec.allowRead ?? []) {
    if (typeof e === 'string') policy.allowRead(e, { reason: `read grant for ${e} (policy)` });
    else
      policy.allowRead(e.path, {
        at: e.at,
        include: e.include,
        exclude: e.exclude,
        dotfiles: e.dotfiles,
        reason: `read grant for ${e.path} (policy)`,
      });
  }
  for (const r of spec.rules ?? []) {
    policy.rule({
      effect: r.effect,
      path: r.path,
      ops: r.ops ?? (r.effect === 'allow' ? ['stat', 'read', 'list'] : OPERATIONS),
      reason: r.reason ?? `${r.effect} rule ${r.path} (policy)`,
    });
  }
  return policy;
}
