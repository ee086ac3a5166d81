import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { syncLatency } from '../../bench/lib/disk-sync.js';

let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the bench\'s disk probe', () => {
  it('times every sync, waits the gap before each, and leaves nothing behind', () => {
    dir = mkdtempSync(join(tmpdir(), 'rb-disk-sync-'));
    const t0 = performance.now();
    const r = syncLatency(dir, { gapMs: 2, count: 50, frames: 3 });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(50 * 2);
    expect(r.count).toBe(50);
    expect(r.p50).toBeGreaterThan(0);
    expect(r.p99).toBeGreaterThanOrEqual(r.p50);
    expect(readdirSync(dir)).toEqual([]);
  });
});
