export declare const WARMUP_FRACTION: number;
export declare const RSS_GROWTH_FRACTION: number;
export declare const RSS_GROWTH_MIN_MB: number;
export declare const FD_MARGIN: number;
export declare const FLAT_DEFINITION: string;
export interface SoakSample {
  elapsedS: number; rssMb: number; heapMb: number | null; fds: number; done: Record<string, number>; errors: number;
}
interface Stat { from: number; to: number; allowedMb: number }
export interface FlatVerdict {
  flat: boolean; why: string;
  rssFlat?: boolean; fdsFlat?: boolean; rss?: { median: Stat; max: Stat };
  fdBaseline?: number; quietFds?: number; warmup?: number; third?: number;
}
export declare function flatVerdict(samples: Array<Pick<SoakSample, 'rssMb' | 'fds'>>, quietFds: number): FlatVerdict;
export declare function sampleTable(samples: SoakSample[], loadNames: string[], minWidth?: number): string;
