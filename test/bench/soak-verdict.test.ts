import { describe, expect, it } from 'vitest';
import { FD_MARGIN, flatVerdict, sampleTable } from '../../bench/lib/soak-verdict.mjs';

/** 60 samples (10 minutes at 10 s): a GC sawtooth around `base` MB plus `slope` MB per sample. */
const series = (base: number, slope: number, fds = 30) =>
  Array.from({ length: 60 }, (_, i) => ({ rssMb: base + (i % 6) * 8 + slope * i, fds }));

describe('soak flatness verdict', () => {
  it('calls a sawtooth without a trend flat, and returns the fd count it compared against', () => {
    const v = flatVerdict(series(140, 0), 30 + FD_MARGIN);
    expect(v.rssFlat).toBe(true);
    expect(v.fdsFlat).toBe(true);
    expect(v.flat).toBe(true);
    expect(v.fdBaseline).toBe(30);
    expect(v.rss!.max.to - v.rss!.max.from).toBeLessThanOrEqual(v.rss!.max.allowedMb);
  });

  it('calls a slow steady rise a leak: 0.5 MB per sample is 30 MB over the run', () => {
    const v = flatVerdict(series(140, 0.5), 30);
    expect(v.rssFlat).toBe(false);
    expect(v.flat).toBe(false);
    expect(v.rss!.median.to - v.rss!.median.from).toBeGreaterThan(v.rss!.median.allowedMb);
    expect(v.why).toContain('GROWS');
  });

  it('catches peaks that grow while the median stays put', () => {
    const samples = series(140, 0).map((s, i) => (i >= 44 && i % 6 === 5 ? { ...s, rssMb: s.rssMb + 40 } : s));
    const v = flatVerdict(samples, 30);
    // The median moves less than its allowance (10% of ~156 MB); only the peaks grew.
    expect(v.rss!.median.to - v.rss!.median.from).toBeLessThan(10);
    expect(v.rss!.max.to - v.rss!.max.from).toBe(40);
    expect(v.rssFlat).toBe(false);
  });

  it('ignores growth during the warm-up', () => {
    const samples = series(140, 0).map((s, i) => (i < 12 ? { ...s, rssMb: 60 + i * 5 } : s));
    expect(flatVerdict(samples, 30).rssFlat).toBe(true);
  });

  it('allows at least 5 MB on a small process, where 10% would be less', () => {
    const flat = Array.from({ length: 30 }, (_, i) => ({ rssMb: i < 16 ? 20 : 24.9, fds: 10 }));
    expect(flatVerdict(flat, 10).rssFlat).toBe(true);
    const grown = flat.map((s, i) => (i < 16 ? s : { ...s, rssMb: 25.1 }));
    expect(flatVerdict(grown, 10).rssFlat).toBe(false);
  });

  it('flags fds still open after the load beyond the margin', () => {
    const samples = series(140, 0).map((s, i) => ({ ...s, fds: 30 + (i % 4) }));
    expect(flatVerdict(samples, 30 + FD_MARGIN).fdsFlat).toBe(true);
    const v = flatVerdict(samples, 30 + FD_MARGIN + 1);
    expect(v.fdsFlat).toBe(false);
    expect(v.flat).toBe(false);
  });

  it('refuses a verdict with too few samples', () => {
    const v = flatVerdict(series(140, 0).slice(0, 3), 30);
    expect(v.flat).toBe(false);
    expect(v.why).toMatch(/too few samples/);
  });

  it('prints one aligned row per sample with cumulative counts', () => {
    const t = sampleTable([
      { elapsedS: 10, rssMb: 141.46, heapMb: null, fds: 29, done: { tftp: 9 }, errors: 0 },
      { elapsedS: 599.6, rssMb: 150, heapMb: 30.25, fds: 31, done: { tftp: 600, ipxe: 1200 }, errors: 2 },
    ], ['tftp', 'ipxe']).split('\n');
    expect(t[0]!.trim().split(/\s+/)).toEqual(['elapsed', 'rss', 'MB', 'heap', 'MB', 'fds', 'tftp', 'ipxe', 'errors']);
    expect(t[1]!.trim().split(/\s+/)).toEqual(['0:10', '141.5', '-', '29', '9', '0', '0']);
    expect(t[2]!.trim().split(/\s+/)).toEqual(['10:00', '150.0', '30.3', '31', '600', '1200', '2']);
    expect(new Set(t.map((l) => l.length)).size).toBe(1);
  });

  it('pads every column to minWidth, so rows printed one at a time line up', () => {
    const row = (n: number) => sampleTable([{ elapsedS: 60 * n, rssMb: 150, heapMb: 30, fds: 30, done: { dhcp: 10 ** n }, errors: 0 }], ['dhcp'], 7).split('\n');
    expect(row(1)[0]).toBe(row(5)[0]);
    expect(row(1)[1]!.length).toBe(row(5)[1]!.length);
  });
});
