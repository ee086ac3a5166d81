import { describe, expect, it } from 'vitest';
import { negotiate } from '../../src/tftp/options.js';

const limits = { maxBlksize: 1468, maxWindowsize: 16 };

describe('TFTP option negotiation', () => {
  it('answers OVMF (tsize=0 blksize=1468 windowsize=4) with the size and its values', () => {
    const n = negotiate([['tsize', '0'], ['blksize', '1468'], ['windowsize', '4']], 876544, limits);
    expect(n.oack).toEqual([['tsize', '876544'], ['blksize', '1468'], ['windowsize', '4']]);
    expect(n).toMatchObject({ blksize: 1468, windowsize: 4, timeoutMs: undefined });
  });

  it('clamps blksize and windowsize to the settings', () => {
    const n = negotiate([['blksize', '65464'], ['windowsize', '64']], 10, limits);
    expect(n.oack).toEqual([['blksize', '1468'], ['windowsize', '16']]);
    expect(n.blksize).toBe(1468);
    expect(n.windowsize).toBe(16);
  });

  it('honours curl\'s timeout=6 exactly and keeps a smaller blksize', () => {
    const n = negotiate([['tsize', '0'], ['blksize', '512'], ['timeout', '6']], 1000, limits);
    expect(n.timeoutMs).toBe(6000);
    expect(n.oack).toEqual([['tsize', '1000'], ['blksize', '512'], ['timeout', '6']]);
  });

  it('ignores unknown options and invalid values, so no OACK when nothing is left', () => {
    const n = negotiate([['multicast', ''], ['blksize', '7'], ['timeout', '0'], ['timeout', '300'], ['windowsize', '0'], ['tsize', 'x']], 1, limits);
    expect(n.oack).toBeUndefined();
    expect(n).toMatchObject({ blksize: 512, windowsize: 1, timeoutMs: undefined });
  });

  it('uses the first of repeated options', () => {
    const n = negotiate([['blksize', '1024'], ['blksize', '8']], 1, limits);
    expect(n.blksize).toBe(1024);
    expect(n.oack).toEqual([['blksize', '1024']]);
  });

  it('without options: 512-byte blocks, no window', () => {
    expect(negotiate([], 5, limits)).toEqual({ blksize: 512, windowsize: 1, timeoutMs: undefined, oack: undefined });
  });
});
