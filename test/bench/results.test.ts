import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { record, tableOf, targetsLine, type BenchRow } from '../../bench/lib/results.mjs';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('bench results table', () => {
  it('keeps each run\'s ratio and shows their range, count and the verdict', () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-bench-results-'));
    const file = join(dir, 'results.json');
    record({ name: 'storm vs chain', unit: 's', ours: 12, reference: 10, referenceName: 'chain', better: 'lower', targetRatio: 1, runRatios: [1.3, 0.9, 1.2] }, file);
    record({ name: 'drops', unit: 'packets', ours: 0, better: 'lower', absolute: 0 }, file);
    record({ name: 'one run', unit: 's', ours: 1, reference: 2, referenceName: 'x', better: 'lower', runRatios: [0.5] }, file);
    const rows = JSON.parse(readFileSync(file, 'utf8')) as BenchRow[];
    expect(rows[0]!.runRatios).toEqual([1.3, 0.9, 1.2]);
    const [head, storm, drops, single] = tableOf(rows);
    expect(head).toContain('ratio per run');
    expect(storm).toEqual(['storm vs chain', 's', '12.00', '10.00 (chain)', '1.20x', '0.90-1.30x (3)', '<= 1x chain', 'NO']);
    expect(drops![5]).toBe('-');
    expect(drops![7]).toBe('yes');
    // One run has no range to show.
    expect(single![5]).toBe('-');
    expect(targetsLine(rows)).toBe('targets: 1 of 2 hold; missed: storm vs chain (12.00 s, target <= 1x chain)');
  });
});
