// Who may run the Talos steps. One appliance always may; several on one
// PostgreSQL store take turns through a session-held lock
// (src/store/pg/coordination.ts), so a cluster is driven by one instance at a
// time and a new leader resumes from the shared state.
export interface Leadership {
  /** Whether this instance leads now; asked before every orchestrator pass. */
  lead(): Promise<boolean>;
  close(): Promise<void>;
}

/** A single appliance (SQLite): always the leader. */
export const ALWAYS_LEADER: Leadership = {
  lead: async () => true,
  close: async () => undefined,
};

/** This instance's leadership as /metrics shows it (src/store/pg/coordination.ts keeps the numbers). */
export interface LeadershipStats {
  leading: boolean;
  /** Times this instance became or stopped being the leader. */
  changes: number;
  /** Milliseconds since the lock was last confirmed by the server; undefined before the first. */
  confirmedAgoMs: number | undefined;
}

/** The leadership gauges by metric name (without the rackboot_ prefix). */
export function leadershipMetrics(stats: LeadershipStats): Record<string, number> {
  const out: Record<string, number> = { leader: stats.leading ? 1 : 0, leader_changes_total: stats.changes };
  if (stats.confirmedAgoMs !== undefined) out.leader_lock_confirmed_age_seconds = stats.confirmedAgoMs / 1000;
  return out;
}
