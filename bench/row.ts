/** One line of the benchmark table: pypy-box beside its baseline, measured in the same run. */
export interface Row {
  name: string;
  pypyBox: number;
  baseline: number;
  unit: string;
  /** pypyBox / baseline, or its inverse for throughputs (so that lower is better everywhere). */
  ratio: number;
  target?: string;
  met?: boolean;
  note?: string;
}
