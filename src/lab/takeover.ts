// Runs beside a lab (started detached by lab up, stopped by lab down): when
// a machine's stand-in kernel has printed its marker and QEMU has exited, a
// fake Talos node takes over the machine's MAC and address. Without VMs the
// fake nodes start at once. When a machine's BMC powers its QEMU on again
// (a power-cycle, a reimage through the BMC), that new boot replaces the
// fake node, and the next stand-in marker brings a fresh one.
// Usage: node dist/lab/takeover.js LAB_DIR
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startFakeNode, stopFakeNode, type FakeNodeRecord } from './fake-nodes.js';
import { machineRunning, readLabState, type LabMachine, type LabState } from './lab.js';
import { parseMarker } from './standin-init.js';
import { appliancePaths } from './appliance-files.js';
import { loadSettings } from '../settings/settings.js';
import { loadInventoryFile } from '../inventory/load.js';
import { nodeConfigText } from '../talos/config/render.js';
import { loadSecrets, writeSecretFile } from '../talos/secrets.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: takeover.js LAB_DIR\n');
  process.exit(2);
}
const log = (msg: string) => process.stdout.write(`${new Date().toISOString()} ${msg}\n`);
const started = new Map<string, FakeNodeRecord>();
const failed = new Set<string>();
/** Per machine: how much of its serial log (appended across boots) earlier boots wrote; only a marker past it counts. */
const serialSeen = new Map<string, number>();
const serialText = (m: LabMachine) => (existsSync(m.serial) ? readFileSync(m.serial, 'latin1') : '');

/** The address the fake takes: the one this boot's stand-in leased, else the inventory's. */
function takeoverAddress(state: LabState, m: LabMachine): string | undefined {
  if (!state.vms) return m.ip;
  if (machineRunning(m)) return undefined;
  const marker = parseMarker(serialText(m).slice(serialSeen.get(m.name) ?? 0));
  if (!marker) return undefined;
  return marker.ip.split('/')[0] || m.ip;
}

/**
 * A VM's stand-in kernel made the one config fetch its boot allows (the
 * marker holds its hash), so the fake node that takes over starts with the
 * same config rendered here, mode 0600 in the lab directory.
 */
function renderedConfigFile(state: LabState, m: LabMachine): string {
  const settings = loadSettings({ config: appliancePaths(state.dir).config });
  const inv = loadInventoryFile(settings.inventory);
  if (!inv.ok) throw new Error(`lab inventory invalid: ${settings.inventory}`);
  const node = inv.inventory.nodes.find((n) => n.name === m.name);
  if (!node) throw new Error(`${m.name} is not in the lab inventory`);
  const file = join(state.dir, `${m.name}.config.yaml`);
  writeSecretFile(file, nodeConfigText({ cluster: inv.inventory.cluster, node, secrets: loadSecrets(settings.dataDir), settings }));
  return file;
}

/** A machine its BMC powered on again: that boot replaces its fake node (same MAC and address). */
function replacedByNewBoot(state: LabState, m: LabMachine): void {
  if (!state.vms || !m.bmc || !(started.has(m.name) || failed.has(m.name)) || !machineRunning(m)) return;
  if (stopFakeNode(state.ns, m.index)) log(`${m.name}: powered on again through its BMC; its fake Talos node is stopped`);
  rmSync(join(state.dir, `${m.name}.talos.json`), { force: true });
  started.delete(m.name);
  failed.delete(m.name);
}

function step(state: LabState): void {
  for (const m of state.machines) {
    replacedByNewBoot(state, m);
    if (started.has(m.name) || failed.has(m.name)) continue;
    const addr = takeoverAddress(state, m);
    if (!addr) continue;
    try {
      const rec = startFakeNode({
        labNs: state.ns, bridge: state.bridge, index: m.index, name: m.name, mac: m.mac, ip: addr, prefixLength: 24,
        secretsFile: join(state.dir, 'data', 'secrets.yaml'), dir: state.dir, talosVersion: state.talosVersion,
        pullUrl: m.configMode === 'pull' && !state.vms ? `${state.url}/config?mac=${m.mac}` : undefined,
        configFile: m.configMode === 'pull' && state.vms ? renderedConfigFile(state, m) : undefined,
        bootUrl: state.vms ? undefined : `${state.url}/ipxe?mac=${m.mac}&arch=x86_64`,
      });
      started.set(m.name, rec);
      serialSeen.set(m.name, serialText(m).length);
      log(`${m.name}: fake Talos node started at ${addr}:50000 (pid ${rec.pid}, namespace ${rec.ns})`);
    } catch (err) {
      failed.add(m.name);
      log(`${m.name}: could not start the fake Talos node: ${(err as Error).message}`);
    }
    writeFileSync(join(state.dir, 'fakes.json'), JSON.stringify([...started.values()], null, 2));
  }
}

for (;;) {
  const state = readLabState(dir);
  if (!state) break;
  step(state);
  // Without BMCs nothing boots again: done once every machine is handled.
  if (!state.vms && started.size + failed.size === state.machines.length) break;
  await new Promise((r) => setTimeout(r, 1000));
}
log('takeover done');
