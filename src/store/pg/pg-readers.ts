// The readers' counts, keys and lookups (../readers.ts) over the shared
// PostgreSQL tables, so every appliance's admin page, /metrics, event
// stream and sightings see what all appliances wrote. Same answers as the
// SQLite statements; JSON is read with jsonb operators instead of json_extract.
import type { NodeState } from '../../lifecycle/states.js';
import { countsFromRows, nodeMacs, type EventTotals, type LeaseRow, type NodeKey, type PageNode, type StateEventRow, type StoreReaders } from '../readers.js';
import { toEvent, toNode, type Row } from '../store.js';

type Query = <T = Row>(sql: string, params?: readonly unknown[]) => T[];

export function pgReaders(q: Query, clusterState: (key: string) => string | undefined): StoreReaders {
  const count = (sql: string) => q<{ n: number }>(sql)[0]!.n;
  return {
    nodeStateCounts: () => countsFromRows(q<{ state: NodeState; n: number }>('SELECT state, count(*) AS n FROM nodes WHERE in_inventory = 1 GROUP BY state')),
    inventoryNodeKeys: () => q<NodeKey>('SELECT name, mac, ip, state FROM nodes WHERE in_inventory=1 ORDER BY rowid'),
    stateEvents: (names) => names.length === 0 ? [] :
      q<StateEventRow>(`SELECT node, at, data_json FROM events WHERE kind = 'state' AND node = ANY($1::text[]) ORDER BY id`, [names]),
    eventTotals: (): EventTotals => ({
      reimagesRequested: count(`SELECT count(*) AS n FROM events WHERE kind='reimage' AND data_json::jsonb ->> 'step' = 'requested'`),
      nodeFailures: count(`SELECT count(*) AS n FROM events WHERE kind='state' AND data_json::jsonb ->> 'to' = 'failed'`),
      discovered: count('SELECT count(*) AS n FROM discovered'),
    }),
    changeMark: () => {
      const [row] = q<{ e: number; c: number; d: string }>(`SELECT (SELECT coalesce(max(id),0) FROM events) AS e,
        (SELECT coalesce(max(updated_at),0) FROM cluster_state) AS c,
        (SELECT coalesce(max(last_seen),0) || '/' || count(*) FROM discovered) AS d`);
      return `${row!.e}|${row!.c}|${row!.d}`;
    },
    inventoryUuids: () => q<{ uuid: string }>('SELECT uuid FROM nodes WHERE in_inventory=1 AND uuid IS NOT NULL').map((r) => r.uuid),
    leaseRows: () => q<LeaseRow>('SELECT mac, ip, hostname FROM leases'),
    latestLease: (macs) => q<LeaseRow>('SELECT mac, ip, hostname FROM leases WHERE mac = ANY($1::text[]) ORDER BY updated_at DESC LIMIT 1', [macs])[0],
    // Three statements for the whole page: a round trip per node per lookup held the event loop ~80 ms for a page of 50.
    pageNodes: (names): PageNode[] => {
      if (names.length === 0) return [];
      const byName = new Map(q('SELECT * FROM nodes WHERE name = ANY($1::text[])', [names]).map((r) => [r.name as string, toNode(r)]));
      const nodes = names.map((n) => byName.get(n)).filter((n) => n !== undefined);
      const leases = new Map(q<LeaseRow & { updated_at: number }>('SELECT mac, ip, hostname, updated_at FROM leases WHERE mac = ANY($1::text[])', [nodes.flatMap(nodeMacs)])
        .map((l) => [l.mac, l]));
      const last = new Map(q(`SELECT DISTINCT ON (node) * FROM events WHERE node = ANY($1::text[]) ORDER BY node, id DESC`, [nodes.map((n) => n.name)])
        .map((r) => [r.node as string, toEvent(r)]));
      return nodes.map((node) => {
        const held = nodeMacs(node).map((m) => leases.get(m)).filter((l) => l !== undefined).sort((x, y) => y.updated_at - x.updated_at)[0];
        return { node, lease: held && { mac: held.mac, ip: held.ip, hostname: held.hostname }, last: last.get(node.name) };
      });
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
