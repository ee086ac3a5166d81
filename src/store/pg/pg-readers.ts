// The readers' counts, keys and lookups (../readers.ts) over the shared
// PostgreSQL tables, so every appliance's admin page, /metrics, event
// stream and sightings see what all appliances wrote. Same answers as the
// SQLite statements; JSON is read with jsonb operators instead of json_extract.
import type { NodeState } from '../../lifecycle/states.js';
import { countsFromRows, type EventTotals, type HostnameRow, type LeaseRow, type NodeKey, type PageNode, type StateEventRow, type StoreReaders } from '../readers.js';
import { toEvent, toNode, type Row } from '../store.js';

type Query = <T = Row>(sql: string, params?: readonly unknown[]) => T[];

/** readers.ts nodeMacs() in SQL, over the row `n`: the spec's `macs` when it lists any, else the node's one MAC. */
const NODE_MACS = `CASE WHEN jsonb_typeof(n.spec_json::jsonb -> 'macs') = 'array' AND jsonb_array_length(n.spec_json::jsonb -> 'macs') > 0
  THEN ARRAY(SELECT jsonb_array_elements_text(n.spec_json::jsonb -> 'macs')) ELSE ARRAY[n.mac] END`;

export function pgReaders(q: Query, clusterState: (key: string) => string | undefined): StoreReaders {
  return {
    nodeStateCounts: () => countsFromRows(q<{ state: NodeState; n: number }>('SELECT state, count(*) AS n FROM nodes WHERE in_inventory = 1 GROUP BY state')),
    inventoryNodeKeys: () => q<NodeKey>('SELECT name, mac, ip, state FROM nodes WHERE in_inventory=1 ORDER BY rowid'),
    stateEvents: (names) => names.length === 0 ? [] :
      q<StateEventRow>(`SELECT node, at, data_json FROM events WHERE kind = 'state' AND node = ANY($1::text[]) ORDER BY id`, [names]),
    // One statement for the three (pg-ops): every /metrics scrape reads them.
    eventTotals: (): EventTotals => q<EventTotals>(`SELECT
      (SELECT count(*) FROM events WHERE kind='reimage' AND data_json::jsonb ->> 'step' = 'requested') AS "reimagesRequested",
      (SELECT count(*) FROM events WHERE kind='state' AND data_json::jsonb ->> 'to' = 'failed') AS "nodeFailures",
      (SELECT count(*) FROM discovered) AS discovered`)[0]!,
    changeMark: () => {
      const [row] = q<{ e: number; c: number; d: string }>(`SELECT (SELECT coalesce(max(id),0) FROM events) AS e,
        (SELECT coalesce(max(updated_at),0) FROM cluster_state) AS c,
        (SELECT coalesce(max(last_seen),0) || '/' || count(*) FROM discovered) AS d`);
      return `${row!.e}|${row!.c}|${row!.d}`;
    },
    inventoryUuids: () => q<{ uuid: string }>('SELECT uuid FROM nodes WHERE in_inventory=1 AND uuid IS NOT NULL').map((r) => r.uuid),
    leaseRows: () => q<LeaseRow>('SELECT mac, ip, hostname FROM leases'),
    latestLease: (macs) => q<LeaseRow>('SELECT mac, ip, hostname FROM leases WHERE mac = ANY($1::text[]) ORDER BY updated_at DESC LIMIT 1', [macs])[0],
    // One statement for the whole page (pg-ops): a round trip per node per lookup held the event loop
    // ~80 ms for a page of 50; three per page still made each render wait on three. The node's
    // newest lease among its MACs and its newest event come back beside it (LATERAL, on the indexes).
    pageNodes: (names): PageNode[] => {
      if (names.length === 0) return [];
      const rows = q<Row & { lease_json: LeaseRow | null; last_json: Row | null; hostname_json: HostnameRow | null }>(`SELECT n.*, row_to_json(l) AS lease_json,
          row_to_json(e) AS last_json, json_build_object('hostname', h.hostname, 'domainname', h.domainname, 'seen_in', h.seen_in, 'read_at', h.read_at) AS hostname_json
        FROM nodes n
        LEFT JOIN node_hostname h ON h.node = n.name
        LEFT JOIN LATERAL (SELECT mac, ip, hostname FROM leases WHERE mac = ANY(${NODE_MACS}) ORDER BY updated_at DESC LIMIT 1) l ON true
        LEFT JOIN LATERAL (SELECT * FROM events WHERE node = n.name ORDER BY id DESC LIMIT 1) e ON true
        WHERE n.name = ANY($1::text[])`, [names]);
      const byName = new Map(rows.map((r) => [r.name as string, r]));
      return names.map((n) => byName.get(n)).filter((r) => r !== undefined).map((r) => ({
        node: toNode(r),
        lease: r.lease_json ? { mac: r.lease_json.mac, ip: r.lease_json.ip, hostname: r.lease_json.hostname } : undefined,
        last: r.last_json ? toEvent(r.last_json) : undefined,
        hostname: r.hostname_json?.hostname != null ? { ...r.hostname_json, read_at: Number(r.hostname_json.read_at) } : undefined,
      }));
    },
    leasedMac: (ip) => q<{ mac: string }>('SELECT mac FROM leases WHERE ip = $1 LIMIT 1', [ip])[0]?.mac,
    nodeForAddress: (ip, now) => {
      const [byIp] = q<{ name: string }>('SELECT name FROM nodes WHERE ip=$1 AND in_inventory=1 LIMIT 1', [ip]);
      if (byIp) return byIp.name;
      return q<{ name: string }>(`SELECT n.name AS name FROM leases l JOIN nodes n ON n.mac = l.mac
        WHERE l.ip=$1 AND l.expires_at > $2 AND n.in_inventory=1 LIMIT 1`, [ip, now])[0]?.name;
    },
    clusterState,
  };
}
