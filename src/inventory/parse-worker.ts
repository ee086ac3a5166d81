// Worker-thread entry: reads, parses and validates one inventory file off
// the daemon's event loop (a 5,000-node file takes a third of a second to
// parse, far past what DHCP can wait). The result goes back in slices, so
// the main thread never spends long deserializing one message, and this
// thread's heap, which held the YAML tree, goes away when it exits.
import { parentPort, workerData } from 'node:worker_threads';
import { loadInventoryFile } from './load.js';
import type { ClusterSpec, InventoryError, NodeSpec } from './types.js';
import type { RenderSettings } from './render-check.js';

/** What the worker posts, in order: rejected, or cluster + nodes… + done. */
export type ParseMessage =
  | { kind: 'rejected'; errors: InventoryError[] }
  | { kind: 'cluster'; cluster: ClusterSpec }
  | { kind: 'nodes'; nodes: NodeSpec[] }
  | { kind: 'done' };

const NODES_PER_MESSAGE = 250;

const { file, render } = workerData as { file: string; render?: RenderSettings };
const result = loadInventoryFile(file, render);
const post = (m: ParseMessage) => parentPort!.postMessage(m);
if (!result.ok) post({ kind: 'rejected', errors: result.errors });
else {
  post({ kind: 'cluster', cluster: result.inventory.cluster });
  const nodes = result.inventory.nodes;
  for (let i = 0; i < nodes.length; i += NODES_PER_MESSAGE) post({ kind: 'nodes', nodes: nodes.slice(i, i + NODES_PER_MESSAGE) });
  post({ kind: 'done' });
}
