// Bench results: one row per measure, appended to bench/results/latest.json
// so bench/run.mjs can print one table once every bench has run. Benches
// outside that table (the soak) pass their own file; BENCH_RESULTS moves the
// whole table (the 1,000-machine storm writes bench/results/storm-1000.json).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_FILE = process.env.BENCH_RESULTS ?? fileURLToPath(new URL('../results/latest.json', import.meta.url));
export const quick = process.env.BENCH_QUICK === '1';

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Records one comparison as {name, unit, ours, reference, referenceName,
 * ratio, better, target, holds, runRatios}. `targetRatio` is the
 * ours/reference ratio that must hold (>= with better "higher", <= with
 * "lower"); an absolute target passes `absolute` instead. `runRatios` are
 * each run's own ours/reference ratio where the row is a median of paired
 * runs, kept so the table shows the run-to-run range. `file` defaults to
 * RESULTS_FILE.
 */
export function record({ name, unit, ours, better, reference, referenceName, targetRatio, absolute, runRatios }, file = RESULTS_FILE) {
  const ratio = reference ? ours / reference : null;
  let holds = null;
  let target = '-';
  if (targetRatio !== undefined && ratio !== null) {
    holds = better === 'higher' ? ratio >= targetRatio : ratio <= targetRatio;
    target = `${better === 'higher' ? '>=' : '<='} ${targetRatio}x ${referenceName}`;
  } else if (absolute !== undefined) {
    holds = better === 'higher' ? ours >= absolute : ours <= absolute;
    target = `${better === 'higher' ? '>=' : '<='} ${absolute} ${unit}`;
  }
  const row = { name, unit, ours, reference: reference ?? null, referenceName: referenceName ?? null, ratio, better, target, holds, runRatios: runRatios ?? null };
  mkdirSync(dirname(file), { recursive: true });
  const rows = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : [];
  rows.push(row);
  writeFileSync(file, JSON.stringify(rows, null, 2) + '\n');
  return row;
}

const fmt = (x) => (x === null || x === undefined ? '-' : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2));

/** The bench table, header first: what `npm run bench` prints and `bench/table.mjs` puts into the README. */
export function tableOf(rows) {
  const range = (r) => (r.runRatios?.length > 1 ? `${Math.min(...r.runRatios).toFixed(2)}-${Math.max(...r.runRatios).toFixed(2)}x (${r.runRatios.length})` : '-');
  return [['measure', 'unit', 'rackboot', 'reference', 'ratio', 'ratio per run', 'target', 'holds'], ...rows.map((row) => [
    row.name, row.unit, fmt(row.ours), row.reference === null ? '-' : `${fmt(row.reference)} (${row.referenceName})`,
    row.ratio === null ? '-' : `${row.ratio.toFixed(2)}x`, range(row), row.target, row.holds === null ? '-' : row.holds ? 'yes' : 'NO',
  ])];
}

/** The targets line: how many hold, and what each missed one measured. */
export function targetsLine(rows) {
  const targeted = rows.filter((row) => row.holds !== null);
  const missed = targeted.filter((row) => !row.holds);
  return `targets: ${targeted.length - missed.length} of ${targeted.length} hold${missed.length ? `; missed: ${missed.map((row) => `${row.name} (${fmt(row.ours)} ${row.unit}, target ${row.target})`).join('; ')}` : ''}`;
}
