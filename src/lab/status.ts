// `rackboot lab status`: each machine's power, its state in rackboot and the
// states it went through, what the stand-in kernel printed, and what its
// fake Talos node saw; then the cluster's bootstrap state and kubeconfig.
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { BOOTSTRAP_KEY, BOOTSTRAP_NODE_KEY } from '../talos/bootstrap.js';
import { readFakeStatus } from './fake-nodes.js';
import type { FakeNodeStatus } from './fake-talos/main.js';
import { curlInLab, machineRunning, ours, readLabState, type LabState } from './lab.js';
import { labChassisEvents } from './lab-bmc.js';
import type { Firmware } from './qemu.js';
import { parseMarker } from './standin-init.js';

export interface MachineStatus {
  name: string; firmware: Firmware; ip: string; running: boolean; state: string;
  /** States in order, from the store's state events, e.g. registered → booting → maintenance → … */
  path: string[];
  marker: string;
  talos: FakeNodeStatus | undefined;
  /** The machine's BMC: whether its ipmi_sim runs, and what its chassis hook did (power and boot device), in order. */
  bmc?: { address: string; up: boolean; chassis: string[] };
}

export interface ClusterStatus { bootstrap: string; bootstrapNode: string | undefined; kubeconfig: string | undefined }

export interface LabStatus { state: LabState; machines: MachineStatus[]; cluster: ClusterStatus; apiError?: string }

function readStore(dataDir: string): { paths: Map<string, string[]>; bootstrap: string; bootstrapNode?: string } {
  const file = join(dataDir, 'rackboot.db');
  const paths = new Map<string, string[]>();
  if (!existsSync(file)) return { paths, bootstrap: 'unknown' };
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT node, data_json FROM events WHERE kind = 'state' ORDER BY id").all() as { node: string; data_json: string | null }[];
    for (const r of rows) {
      const d = r.data_json ? (JSON.parse(r.data_json) as { from?: string; to?: string }) : {};
      if (!d.to) continue;
      const p = paths.get(r.node) ?? (d.from ? [d.from] : []);
      p.push(d.to);
      paths.set(r.node, p);
    }
    const get = (k: string) => (db.prepare('SELECT value FROM cluster_state WHERE key = ?').get(k) as { value: string } | undefined)?.value;
    return { paths, bootstrap: get(BOOTSTRAP_KEY) ?? 'pending', bootstrapNode: get(BOOTSTRAP_NODE_KEY) };
  } finally {
    db.close();
  }
}

export function labStatus(dir: string): LabStatus | undefined {
  const state = readLabState(resolve(dir));
  if (!state) return undefined;
  let nodes: { name: string; state: string }[] = [];
  let apiError: string | undefined;
  try {
    // /api/nodes is paginated; a lab has a handful of machines, far below one full page.
    nodes = (JSON.parse(curlInLab(state, '/api/nodes?pageSize=500')) as { nodes: typeof nodes }).nodes;
  } catch (err) {
    apiError = (err as Error).message.split('\n')[0];
  }
  const dataDir = join(state.dir, 'data');
  const store = readStore(dataDir);
  const machines = state.machines.map((m): MachineStatus => {
    const serial = existsSync(m.serial) ? readFileSync(m.serial, 'latin1') : '';
    const marker = parseMarker(serial);
    return {
      name: m.name, firmware: m.firmware, ip: m.ip, running: machineRunning(m),
      state: nodes.find((n) => n.name === m.name)?.state ?? '?',
      path: store.paths.get(m.name) ?? [],
      marker: !state.vms ? '(no VM in this lab)'
        : marker ? `stand-in kernel ran: ${marker.result}, ip ${marker.ip}${marker.config !== 'none' ? `, pulled config sha256 ${marker.config.slice(0, 12)}…` : ''}` : '(no marker yet)',
      talos: readFakeStatus(join(state.dir, `${m.name}.talos.json`)),
      bmc: m.bmc ? { address: m.bmc.address, up: ours(m.bmc.pid, 'ipmi_sim'), chassis: labChassisEvents(m.bmc) } : undefined,
    };
  });
  const kubeconfig = join(dataDir, 'kubeconfig');
  return { state, machines, apiError, cluster: { bootstrap: store.bootstrap, bootstrapNode: store.bootstrapNode, kubeconfig: existsSync(kubeconfig) ? kubeconfig : undefined } };
}
