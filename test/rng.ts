/** Seeded randomness for the tests that fuzz: the same sequence everywhere for a seed. */

/** mulberry32: small, fast, and the same sequence everywhere for a seed. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return {
    int,
    chance: (p: number): boolean => next() < p,
    pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]!,
    u64: (): bigint => (BigInt(int(2 ** 32)) << 32n) | BigInt(int(2 ** 32)),
    bytes: (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256))),
    letters: (n: number): string => Array.from({ length: n }, () => 'abcdefghijklmnopqrstuvwxyz'[int(26)]).join(''),
  };
}
export type Rng = ReturnType<typeof rng>;
