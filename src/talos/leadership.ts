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
