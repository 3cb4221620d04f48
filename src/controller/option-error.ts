/** A mistake in the options, named by the option (`limits.openFiles`, `tmpFiles["a"]`). */
export class OptionError extends TypeError {
  override readonly name = 'OptionError';
  constructor(
    readonly option: string,
    problem: string,
  ) {
    super(`option ${option}: ${problem}`);
  }
}

export function nonNegInt(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw new OptionError(name, `expected a non-negative integer, got ${String(v)}`);
  return v;
}
