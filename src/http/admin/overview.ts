// The rack overview's data, shared by /ui, its live updates and /api/nodes:
// counts per state over the whole inventory, then one page of the nodes
// that pass the filter and search. Only the page's nodes are looked at
// closely (lease, last event, stage history, power), so a 5,000-node
// inventory costs one page of work and one page of HTML.
import { isNodeState, NODE_STATES, type NodeState } from '../../lifecycle/states.js';
import type { Store } from '../../store/store.js';
import type { NodeKey } from '../../store/readers.js';
import { nodeView, stateHistories, type NodeView, type PowerLookup } from './views.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 500;

export interface NodeQuery {
  /** Only nodes in this state. */
  state?: NodeState;
  /** Part of a name, MAC, IP or hostname (case-insensitive). */
  q?: string;
  /** 1-based. */
  page: number;
  pageSize: number;
}

export type NodeQueryResult = { ok: true; query: NodeQuery } | { ok: false; error: string };

const positiveInt = (v: unknown) => (typeof v === 'string' && /^[1-9][0-9]{0,8}$/.test(v) ? Number(v) : undefined);

/** Reads state, q, page and pageSize from a query string; anything else there is ignored. */
export function parseNodeQuery(raw: Record<string, unknown>): NodeQueryResult {
  const query: NodeQuery = { page: 1, pageSize: DEFAULT_PAGE_SIZE };
  if (raw.state !== undefined && raw.state !== '') {
    if (typeof raw.state !== 'string' || !isNodeState(raw.state)) return { ok: false, error: `state must be one of ${NODE_STATES.join(', ')}` };
    query.state = raw.state;
  }
  if (raw.q !== undefined && raw.q !== '') {
    if (typeof raw.q !== 'string' || raw.q.length > 200) return { ok: false, error: 'q must be text of at most 200 characters' };
    query.q = raw.q.trim();
  }
  if (raw.page !== undefined) {
    const page = positiveInt(raw.page);
    if (page === undefined) return { ok: false, error: 'page must be a whole number from 1' };
    query.page = page;
  }
  if (raw.pageSize !== undefined) {
    const size = positiveInt(raw.pageSize);
    if (size === undefined || size > MAX_PAGE_SIZE) return { ok: false, error: `pageSize must be a whole number from 1 to ${MAX_PAGE_SIZE}` };
    query.pageSize = size;
  }
  return { ok: true, query };
}

/** The query string that reproduces `q` (defaults left out), for links and the live stream. */
export function nodeQueryString(q: NodeQuery, overrides: Partial<NodeQuery> = {}): string {
  const merged = { ...q, ...overrides };
  const p = new URLSearchParams();
  if (merged.state) p.set('state', merged.state);
  if (merged.q) p.set('q', merged.q);
  if (merged.page !== 1) p.set('page', String(merged.page));
  if (merged.pageSize !== DEFAULT_PAGE_SIZE) p.set('pageSize', String(merged.pageSize));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export interface NodeListing {
  query: NodeQuery;
  /** Nodes passing the filter and search, over all pages. */
  total: number;
  pages: number;
  /** Every inventory node by state, whatever the filter. */
  counts: Record<NodeState, number>;
  /** Inventory nodes in all. */
  inventoryTotal: number;
  nodes: NodeView[];
}

interface Lease { ip: string; hostname: string | null }


function matches(n: NodeKey, lease: Lease | undefined, needle: string): boolean {
  const compact = needle.replace(/[:-]/g, '');
  return n.name.toLowerCase().includes(needle)
    || n.mac.includes(needle) || (compact.length >= 2 && n.mac.replace(/:/g, '').includes(compact))
    || (n.ip ?? lease?.ip ?? '').includes(needle)
    || (lease?.hostname ?? '').toLowerCase().includes(needle);
}

export function nodeListing(store: Store, query: NodeQuery, power?: PowerLookup, now = Date.now()): NodeListing {
  // In the store's order (listNodes'), without parsing 5,000 specs.
  const all = store.readers.inventoryNodeKeys();
  const counts = Object.fromEntries(NODE_STATES.map((s) => [s, 0])) as Record<NodeState, number>;
  for (const n of all) counts[n.state]++;
  let picked = query.state ? all.filter((n) => n.state === query.state) : all;
  if (query.q) {
    const leases = new Map(store.readers.leaseRows().map((l) => [l.mac, l]));
    const needle = query.q.toLowerCase();
    picked = picked.filter((n) => matches(n, leases.get(n.mac), needle));
  }
  const total = picked.length;
  const pages = Math.max(1, Math.ceil(total / query.pageSize));
  const slice = store.readers.pageNodes(picked.slice((query.page - 1) * query.pageSize, query.page * query.pageSize).map((k) => k.name));
  const histories = stateHistories(store, slice.map((p) => p.node.name));
  return {
    query, total, pages, counts, inventoryTotal: all.length,
    nodes: slice.map((p) => nodeView(store, p.node, power, { history: histories.get(p.node.name) ?? [], now, page: p })),
  };
}
