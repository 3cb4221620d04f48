import type { StockProfile } from '../../guest/profile.js';
import { Policy } from '../../policy/policy.js';
import type { Delegation } from '../../supervisor/delegation.js';
import { wordFrame } from '../../supervisor/words.js';
import type { ControllerOptions, Limits } from '../options.js';
import { vfsRecipe } from '../setup/filesystem.js';
import { ttyFlags } from '../stdio/streams.js';

/** A run's local answers as sent: what the supervisor answers itself, and its configuration words. */
export interface CachedAnswers {
  delegation: Delegation | undefined;
  words: string[];
  at: number;
}

/**
 * Local answers by recipe (see answerCacheKey), reused for a short while: deciding them needs the
 * built tree, and a run that reuses them lets its guest start before the tree exists. Whatever the
 * host changed since, the supervisor checks at every call (it never follows a symlink, opens only
 * regular files and forwards every doubtful case).
 */
const delegations = new Map<string, CachedAnswers>();
const DELEGATION_TTL_MS = 10_000;
const MAX_RECIPES = 64;

/**
 * What makes two runs' local answers the same: the tree's recipe, identity, handlers, terminals.
 * undefined: not reusable (no stock guest, local answers off, policy rules, a tree not built from options).
 */
export function answerCacheKey(
  o: ControllerOptions,
  limits: Limits,
  stock: StockProfile | undefined,
  replaced: ReadonlySet<string>,
): string | undefined {
  if (!stock || o.localAnswers === false || (o.policy && o.policy.listRules().length > 0)) return undefined;
  const recipe = vfsRecipe(o, limits, o.policy ?? new Policy(), stock);
  if (recipe === undefined) return undefined;
  return JSON.stringify([recipe, [...replaced].sort(), ttyFlags(o)]);
}

/** The answers of a recent run of the same recipe, while fresh. */
export function cachedAnswers(key: string | undefined): CachedAnswers | undefined {
  const hit = key !== undefined ? delegations.get(key) : undefined;
  return hit && Date.now() - hit.at < DELEGATION_TTL_MS ? hit : undefined;
}

export function rememberAnswers(key: string, delegation: Delegation | undefined, words: string[]): void {
  if (delegations.size >= MAX_RECIPES) delegations.clear();
  delegations.set(key, { delegation, words, at: Date.now() });
}

/** The supervisor's configuration: its words in one frame. */
export function configurationBytes(list: string[]): Buffer {
  return wordFrame(list);
}
