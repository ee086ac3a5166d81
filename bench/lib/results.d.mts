export declare const RESULTS_FILE: string;
export declare const quick: boolean;
export declare function median(xs: number[]): number;
export interface BenchRow {
  name: string; unit: string; ours: number; reference: number | null; referenceName: string | null;
  ratio: number | null; better: 'lower' | 'higher'; target: string; holds: boolean | null; runRatios: number[] | null;
}
export declare function record(row: {
  name: string; unit: string; ours: number; better: 'lower' | 'higher';
  reference?: number; referenceName?: string; targetRatio?: number; absolute?: number; runRatios?: number[];
}, file?: string): BenchRow;
export declare function tableOf(rows: BenchRow[]): string[][];
export declare function targetsLine(rows: BenchRow[]): string;
