// Schema migrations, applied in order and tracked by SQLite's user_version.
// Append new steps; never edit a step that has shipped.
export const migrations: string[] = [
  // 1: the foundation tables.
  `
  CREATE TABLE nodes (
    name TEXT PRIMARY KEY,
    mac TEXT NOT NULL,
    role TEXT NOT NULL,
    ip TEXT,
    uuid TEXT,
    spec_json TEXT NOT NULL,
    in_inventory INTEGER NOT NULL DEFAULT 1,
    state TEXT NOT NULL DEFAULT 'registered',
    state_reason TEXT NOT NULL DEFAULT '',
    state_since INTEGER NOT NULL,
    failed_step TEXT,
    marked_for_install INTEGER NOT NULL DEFAULT 1,
    last_seen INTEGER,
    created_at INTEGER NOT NULL
  );
  CREATE INDEX nodes_mac ON nodes(mac);

  -- Append-only: rows are inserted, never updated or deleted.
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    node TEXT,
    mac TEXT,
    kind TEXT NOT NULL,
    message TEXT NOT NULL,
    data_json TEXT
  );
  CREATE INDEX events_node ON events(node, id);
  CREATE INDEX events_mac ON events(mac, id);
  CREATE TRIGGER events_append_only_update BEFORE UPDATE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
  CREATE TRIGGER events_append_only_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

  CREATE TABLE leases (
    mac TEXT PRIMARY KEY,
    ip TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    client_id TEXT,
    hostname TEXT,
    updated_at INTEGER NOT NULL
  );

  CREATE TABLE discovered (
    mac TEXT PRIMARY KEY,
    uuid TEXT,
    arch TEXT,
    vendor_class TEXT,
    user_class TEXT,
    relay TEXT,
    source TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    seen_count INTEGER NOT NULL DEFAULT 1
  );

  CREATE TABLE cluster_state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  // 2: admin web authentication: the admin token's hash and login sessions.
  `
  CREATE TABLE admin_token (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    hash TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE admin_sessions (
    id_hash TEXT PRIMARY KEY,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  );
  `,
  // 3: the boot-asset cache (Talos kernel and initramfs per schematic, version, arch).
  `
  CREATE TABLE assets (
    schematic TEXT NOT NULL,
    version TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    PRIMARY KEY (schematic, version, name)
  );
  `,
  // 4: one boot token per node: issued with a pull node's install script,
  // spent by its first config fetch. Only the token's SHA-256 is kept.
  `
  CREATE TABLE boot_tokens (
    node TEXT PRIMARY KEY,
    mac TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    issued_to TEXT NOT NULL,
    served_at INTEGER,
    served_to TEXT
  );
  `,
  // day2-rollout: Talos upgrade rollouts. A rollout is paused with a reason
  // or runs; each node row records where that node is, so a restart resumes
  // there. 'calling' is written before the upgrade call is sent. driver_pid:
  // the process running it (daemon or CLI), so two never run it at once.
  `
  CREATE TABLE rollouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    target_version TEXT NOT NULL,
    schematic TEXT NOT NULL,
    image TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    assets_ready INTEGER NOT NULL DEFAULT 0,
    driver_pid INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE rollout_nodes (
    rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
    node TEXT NOT NULL,
    role TEXT NOT NULL,
    ord INTEGER NOT NULL,
    state TEXT NOT NULL,
    version_before TEXT NOT NULL DEFAULT '',
    version_after TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    started_at INTEGER,
    finished_at INTEGER,
    PRIMARY KEY (rollout_id, node)
  );
  -- Node removals (rackboot remove): the mark that allows its Reset, and how far it got.
  CREATE TABLE removals (
    node TEXT PRIMARY KEY,
    step TEXT NOT NULL,
    force INTEGER NOT NULL,
    requested_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  `,
  // branch hardware: a node's hardware facts as last read from Talos
  // maintenance mode (src/talos/hardware.ts), one row per node, replaced on
  // every read; read_at says how old they are.
  `
  CREATE TABLE node_hardware (
    node TEXT PRIMARY KEY,
    mac TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    facts_json TEXT NOT NULL,
    read_at INTEGER NOT NULL,
    -- the disk an install-disk selector resolved to, and when
    install_disk TEXT,
    install_disk_at INTEGER
  );
  `,
  // day2-config: per installed node, the config it applied (hash and a
  // redacted copy), what it runs, the mode Talos chose for the last apply,
  // and the config it rejected (by hash, so it is not sent again).
  `
  CREATE TABLE node_config (
    node TEXT PRIMARY KEY,
    applied_sha256 TEXT,
    applied_redacted TEXT,
    applied_at INTEGER,
    applied_via TEXT,
    applied_mode TEXT,
    mode_details TEXT,
    installer_image TEXT,
    kubernetes_version TEXT,
    talos_version TEXT,
    version_seen_at INTEGER,
    rejected_sha256 TEXT,
    rejected_reason TEXT,
    rejected_at INTEGER
  );
  `,
  // branch commission (issue 17): unknown machines booted into maintenance
  // mode to be read, keyed by the MAC that PXE-booted. state: booting (the
  // Talos kernel was served), read (facts stored), failed (last read failed;
  // retried while booting is recent).
  `
  CREATE TABLE discovered_hardware (
    mac TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    booted_at INTEGER NOT NULL,
    endpoint TEXT,
    facts_json TEXT,
    read_at INTEGER,
    last_error TEXT
  );
  `,
  // branch ux-finish (issue 18): the hostname the node itself reports
  // (Talos HostnameStatus), and whether it was read in maintenance mode or
  // once installed.
  `
  CREATE TABLE node_hostname (
    node TEXT PRIMARY KEY,
    hostname TEXT NOT NULL,
    domainname TEXT NOT NULL DEFAULT '',
    seen_in TEXT NOT NULL,
    read_at INTEGER NOT NULL
  );
  `,
  // branch secureboot (issue 23): when each node last fetched its UKI by
  // HTTP boot. A UKI fetch with no contact after it (the kernel's DHCP, a
  // state change) within the settings' time is a refused image.
  `
  CREATE TABLE uki_fetches (
    node TEXT PRIMARY KEY,
    mac TEXT NOT NULL,
    name TEXT NOT NULL,
    served_at INTEGER NOT NULL,
    served_to TEXT NOT NULL
  );
  `,
  // branch ipv6 (issue 23): DHCPv6 leases (RFC 8415 §6.2 IA_NA), one
  // address per client (its first IA_NA). `client` is the node's MAC when the DUID, option 79 or
  // the EUI-64 link-local source gave one, else 'duid:<hex>': so firmware
  // (DUID-UUID) and iPXE (DUID-LL) on one machine share its address.
  `
  CREATE TABLE dhcpv6_leases (
    client TEXT PRIMARY KEY,
    iaid INTEGER NOT NULL,
    ip TEXT NOT NULL,
    state TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    duid TEXT NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE UNIQUE INDEX dhcpv6_leases_ip ON dhcpv6_leases(ip);
  `,
  // branch pg-dhcp (issue 21): RELEASEs and DECLINEs on a shared DHCP
  // segment, kept until PostgreSQL has them (src/dhcp/freed-outbox.ts).
  `
  CREATE TABLE shared_freed_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    change_json TEXT NOT NULL,
    at INTEGER NOT NULL
  );
  `,
  // branch dhcp-rate (issue 19): the oldest discovered machines, found
  // without sorting the table each time a new MAC is recorded; and whose
  // reservation an address is, without reading every node per DHCP packet.
  `
  CREATE INDEX discovered_by_last_seen ON discovered(last_seen, first_seen);
  CREATE INDEX nodes_ip ON nodes(ip);
  `,
  // branch pg-shared (issue 21): the operator's reimage marks, one row per
  // mark (src/store/reimage-marks.ts). The Reset intent is keyed by `id`;
  // `state_since` is the node's, copied in the transaction that marked it.
  `
  CREATE TABLE reimage_marks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node TEXT NOT NULL,
    state_since INTEGER NOT NULL,
    marked_at INTEGER NOT NULL,
    marked_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    previous_state TEXT NOT NULL,
    previous_marked INTEGER NOT NULL,
    bootstrap_before_json TEXT
  );
  CREATE INDEX reimage_marks_node ON reimage_marks(node, id);
  `,
  // branch pg-ops (issue 21): what each appliance on a shared database was
  // given, so a mismatch is seen (src/store/pg/appliances.ts): a keyed
  // fingerprint of its adminToken (never the token) and the digest of its
  // inventory file. Written on PostgreSQL only; not copied by store migrate.
  `
  CREATE TABLE appliances (
    name TEXT PRIMARY KEY,
    admin_token_fp TEXT,
    inventory_digest TEXT,
    inventory_nodes INTEGER,
    inventory_applied INTEGER NOT NULL DEFAULT 0,
    inventory_at INTEGER,
    seen_at INTEGER NOT NULL
  );
  `,
];
