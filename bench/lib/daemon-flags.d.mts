export declare function nodeFlagsOfUnit(unitText: string): string[];
export declare function daemonNodeFlags(): string[];
