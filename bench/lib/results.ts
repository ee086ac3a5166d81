// Bench results: one row per measure, appended to bench/results/latest.json
// so bench/run.mjs can print the table once every file has run.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const RESULTS_FILE = fileURLToPath(new URL('../results/latest.json', import.meta.url));

export interface BenchRow {
  name: string;
  unit: string;
  ours: number;
  reference: number | null;
  referenceName: string | null;
  /** ours / reference. */
  ratio: number | null;
  better: 'lower' | 'higher';
  /** Human-readable target, e.g. ">= 0.8x nginx". */
  target: string;
  holds: boolean | null;
}

export const quick = process.env.BENCH_QUICK === '1';

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Records one comparison. `targetRatio` is the ratio ours/reference that must
 * hold: with better "higher" ours/reference >= targetRatio, with "lower"
 * ours/reference <= targetRatio. Absolute targets pass `absolute` instead.
 */
export function record(row: {
  name: string; unit: string; ours: number; better: 'lower' | 'higher';
  reference?: number; referenceName?: string; targetRatio?: number; absolute?: number;
}): BenchRow {
  const ratio = row.reference ? row.ours / row.reference : null;
  let holds: boolean | null = null;
  let target = '-';
  if (row.targetRatio !== undefined && ratio !== null) {
    holds = row.better === 'higher' ? ratio >= row.targetRatio : ratio <= row.targetRatio;
    target = `${row.better === 'higher' ? '>=' : '<='} ${row.targetRatio}x ${row.referenceName}`;
  } else if (row.absolute !== undefined) {
    holds = row.better === 'higher' ? row.ours >= row.absolute : row.ours <= row.absolute;
    target = `${row.better === 'higher' ? '>=' : '<='} ${row.absolute} ${row.unit}`;
  }
  const out: BenchRow = {
    name: row.name, unit: row.unit, ours: row.ours, reference: row.reference ?? null,
    referenceName: row.referenceName ?? null, ratio, better: row.better, target, holds,
  };
  mkdirSync(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true });
  const rows: BenchRow[] = existsSync(RESULTS_FILE) ? JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) : [];
  rows.push(out);
  writeFileSync(RESULTS_FILE, JSON.stringify(rows, null, 2) + '\n');
  return out;
}
