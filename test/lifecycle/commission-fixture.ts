// Facts as commissioning reads them from an unknown machine: one SSD, one
// spinning disk, two NICs of which the booted one has link.
import type { HardwareFacts } from '../../src/talos/hardware.js';

export const COMMISSIONED_MAC = '52:54:00:aa:bb:cc';

export const COMMISSIONED_FACTS: HardwareFacts = {
  disks: [
    { id: 'sda', devPath: '/dev/sda', size: 4e12, model: 'BIG<HDD>', serial: 'HDD-1', wwid: '', transport: 'sata', rotational: true, readonly: false, cdrom: false, busPath: '' },
    { id: 'sdb', devPath: '/dev/sdb', size: 480e9, model: 'INTEL SSD', serial: 'BTYF1234', wwid: 'naa.55cd2e4150', transport: 'sata', rotational: false, readonly: false, cdrom: false, busPath: '' },
  ],
  system: { manufacturer: 'Supermicro', productName: 'SYS-1029', version: '', serialNumber: 'S9', uuid: '' },
  processors: [], memory: [], pci: [],
  links: [
    { id: 'eno1', hardwareAddr: COMMISSIONED_MAC, permanentAddr: COMMISSIONED_MAC, driver: 'igb', speedMbit: 1000, linkState: true, operationalState: 'up', busPath: '' },
    { id: 'eno2', hardwareAddr: '52:54:00:aa:bb:cd', permanentAddr: '52:54:00:aa:bb:cd', driver: 'igb', speedMbit: 0, linkState: false, operationalState: 'down', busPath: '' },
  ],
};
