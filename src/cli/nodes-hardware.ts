// `rackboot nodes NODE --hardware`: the facts last read from the node in
// Talos maintenance mode, as text or JSON.
import { nodeHardware } from '../store/hardware.js';
import type { Store } from '../store/store.js';
import { prettySize } from '../talos/hardware.js';
import { EXIT_FAILURE, EXIT_OK } from './command.js';
import { printableJson, printTable } from './printable.js';

export function printNodeHardware(store: Store, name: string, json: boolean, io: { out: (l: string) => void; err: (l: string) => void }): number {
  if (!store.getNode(name)) {
    io.err(`rackboot: no such node: ${name}`);
    return EXIT_FAILURE;
  }
  const hw = nodeHardware(store, name);
  if (json) {
    io.out(printableJson(hw ? { node: name, readAt: new Date(hw.readAt).toISOString(), endpoint: hw.endpoint, ...hw.facts } : { node: name, readAt: null }));
    return EXIT_OK;
  }
  if (!hw) {
    io.out(`${name}: no hardware facts yet (read the next time the node is in Talos maintenance mode)`);
    return EXIT_OK;
  }
  const f = hw.facts;
  const s = f.system;
  io.out(`${name}: read ${new Date(hw.readAt).toISOString()} from ${hw.endpoint}`);
  io.out(`system: ${s ? [s.manufacturer, s.productName, s.version].filter(Boolean).join(' ') : '-'}; serial ${s?.serialNumber || '-'}; uuid ${s?.uuid || '-'}`);
  io.out(`cpu: ${f.processors.length} socket(s), ${f.processors.reduce((n, p) => n + p.coreCount, 0)} cores, ${f.processors.reduce((n, p) => n + p.threadCount, 0)} threads`);
  io.out(`memory: ${f.memory.reduce((n, m) => n + m.sizeMiB, 0)} MiB in ${f.memory.length} module(s)`);
  io.out('');
  const disks = [['DISK', 'SIZE', 'MODEL', 'SERIAL', 'WWID', 'TRANSPORT', 'ROTATIONAL']];
  for (const d of f.disks) disks.push([d.devPath, prettySize(d.size), d.model || '-', d.serial || '-', d.wwid || '-', d.transport || '-', d.rotational ? 'yes' : 'no']);
  printTable(disks, io.out);
  io.out('');
  const links = [['LINK', 'MAC', 'PERMANENT MAC', 'DRIVER', 'SPEED', 'LINK']];
  for (const l of f.links) links.push([l.id, l.hardwareAddr, l.permanentAddr || '-', l.driver || '-', l.speedMbit ? `${l.speedMbit}Mb/s` : '-', l.linkState ? 'up' : 'down']);
  printTable(links, io.out);
  return EXIT_OK;
}
