// An in-process handler context over a real Store (in memory or a file).
import { pino } from 'pino';
import { Store } from '../../src/store/store.js';
import { Lifecycle } from '../../src/lifecycle/lifecycle.js';
import { Leases } from '../../src/dhcp/leases.js';
import { OfferBook, type HandlerContext } from '../../src/dhcp/handler/common.js';
import { DEFAULT_POWER_SETTINGS, type Settings } from '../../src/settings/settings.js';
import { DEFAULT_TIMEOUTS } from '../../src/lifecycle/states.js';
import type { Inventory, NodeSpec } from '../../src/inventory/types.js';

export const SERVER = '10.77.0.1';
export const PUBLIC_URL = 'http://10.77.0.1:8080';

export function settingsWith(dhcp: Partial<Settings['dhcp']> = {}): Settings {
  return {
    dataDir: '/nonexistent', inventory: '/nonexistent', assetsDir: '/nonexistent', logLevel: 'info',
    dhcp: {
      mode: 'full', subnet: '10.77.0.0/24', dns: ['10.77.0.1'], leaseSeconds: 3600, efiBinary: 'ipxe.efi',
      arm64Binary: 'ipxe-arm64.efi', bootFileForInstalled: true, routerAdvertisement: false, relays: [], leaseDurability: 'power', ...dhcp,
    },
    tftp: { enabled: false, root: '/nonexistent', port: 69, maxBlksize: 1468, maxWindowsize: 16, maxTransfers: 64 },
    http: { listen: '0.0.0.0:8080', adminListen: '127.0.0.1:8443', allowAnonymousRead: false },
    talos: { consoles: [], extraKernelArgs: [] },
    lifecycle: { timeouts: { ...DEFAULT_TIMEOUTS }, sweepSeconds: 15 },
    power: { ...DEFAULT_POWER_SETTINGS },
    console: { enabled: false, port: 5514, linesPerNode: 500 },
    bmc: { pollSeconds: 0, timeoutSeconds: 10, solSeconds: 0 },
    factory: { url: 'https://factory.talos.dev' },
    upgrade: { parallelism: 1, returnSeconds: 900 },  // day2-rollout
    registry: { mirror: false, offline: false },
    day2: { autoApply: 'none' },
    discovery: { commission: false },  // branch commission
    metrics: {},
    dhcpv6: { enabled: false, dns: [], leaseSeconds: 3600, rapidCommit: true },  // branch ipv6
  };
}

export function node(name: string, mac: string, ip?: string): NodeSpec {
  return { name, mac, role: 'worker', ip, installDisk: '/dev/sda', bootstrap: false, configMode: 'push', patches: [] };
}

export const NODES = [
  node('cp-1', '52:54:00:12:34:01', '10.77.0.11'),
  node('ovmf-1', '52:54:00:12:34:02', '10.77.0.12'),
  node('worker-1', '52:54:00:12:34:11', '10.77.0.21'),
  node('noip-1', '52:54:00:12:34:99'),
];

export function inventoryOf(nodes: NodeSpec[]): Inventory {
  return { cluster: { name: 't' } as Inventory['cluster'], nodes };
}

export interface TestContext extends HandlerContext {
  clock: { t: number };
}

export function makeContext(settings: Settings, opts: { file?: string; nodes?: NodeSpec[]; inTftpRoot?: (f: string) => boolean } = {}): TestContext {
  const clock = { t: 1_700_000_000_000 };
  const now = () => clock.t;
  const store = new Store(opts.file ?? ':memory:', { now });
  store.syncInventory(inventoryOf(opts.nodes ?? NODES));
  return {
    settings, store, lifecycle: new Lifecycle(store), leases: new Leases(store.db, now), serverAddress: SERVER,
    publicUrl: PUBLIC_URL, inTftpRoot: opts.inTftpRoot ?? (() => false), offers: new OfferBook(now),
    log: pino({ level: 'silent' }), now, clock,
  };
}
