export declare function nodeFlagsOfUnit(unitText: string): string[];
export declare function daemonNodeFlags(): string[];
export declare function environmentOfUnit(unitText: string): Record<string, string>;
export declare function daemonEnv(): NodeJS.ProcessEnv;
