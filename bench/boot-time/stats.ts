// Small statistics for the benchmarks: median and spread of a sample.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** "median (min..max, n=N)" with `digits` decimals. */
export function summary(xs: readonly number[], digits = 0): string {
  if (xs.length === 0) return "no samples";
  const f = (x: number) => x.toFixed(digits);
  return `${f(median(xs))} (${f(Math.min(...xs))}..${f(Math.max(...xs))}, n=${xs.length})`;
}
