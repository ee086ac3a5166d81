export interface PerfdhcpKind { sent: number; received: number; drops: number }
export declare function perfdhcpStats(out: string): Record<string, PerfdhcpKind>;
