// Loads the inventory in a worker thread (see parse-worker.ts) and gathers
// its slices back into one LoadResult, yielding to the event loop between
// slices. One worker per load: it exits when done, and its heap with it.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ParseMessage } from './parse-worker.js';
import type { ClusterSpec, LoadResult, NodeSpec } from './types.js';
import type { RenderSettings } from './render-check.js';

/**
 * The compiled worker: beside this module in dist/, or, when this module
 * runs from src/ (vitest), the build in dist/ (test/global-setup.ts
 * compiles it before any test runs).
 */
export function parseWorkerFile(): string | undefined {
  for (const rel of ['./parse-worker.js', '../../dist/inventory/parse-worker.js']) {
    const file = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(file)) return file;
  }
  return undefined;
}

export class NoParseWorker extends Error {}

/** `render`: the settings every node's config is rendered with, as the blocking load does (render-check.ts). */
export function loadInventoryOffThread(file: string, render?: RenderSettings): Promise<LoadResult> {
  const script = parseWorkerFile();
  if (!script) return Promise.reject(new NoParseWorker('the inventory parse worker (dist/inventory/parse-worker.js) is missing'));
  return new Promise((resolve, reject) => {
    const worker = new Worker(script, { workerData: { file, render } });
    let cluster: ClusterSpec | undefined;
    const nodes: NodeSpec[] = [];
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      fn();
      void worker.terminate();
    };
    worker.on('message', (m: ParseMessage) => {
      if (m.kind === 'rejected') settle(() => resolve({ ok: false, errors: m.errors }));
      else if (m.kind === 'cluster') cluster = m.cluster;
      else if (m.kind === 'nodes') for (const n of m.nodes) nodes.push(n);
      else if (cluster) settle(() => resolve({ ok: true, inventory: { cluster: cluster!, nodes }, errors: [] }));
      else settle(() => reject(new Error('the inventory parse worker finished without a cluster')));
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the inventory parse worker exited with code ${code}`))));
  });
}
