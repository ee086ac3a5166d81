import type { Logger } from '../log.js';
import type { Settings } from '../settings/settings.js';
import type { Store } from '../store/store.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { Inventory } from '../inventory/types.js';
import type { InventoryStatus } from '../inventory/watch.js';
import type { ConsoleLog } from '../console/buffer.js';
import type { MetricsSource } from '../lifecycle/ports.js';
import type { Reimager } from '../lifecycle/reimage.js';
import type { RequesterIdentity } from '../net/neighbours.js';
import type { PowerMonitor } from '../bmc/power-monitor.js';
import type { SolCapture } from '../bmc/sol-capture.js';
import type { Day2Service } from '../day2/service.js';
import type { TalosServiceState } from '../talos/service.js';

/** What the HTTP endpoints need from the rest of the appliance. */
export interface HttpContext {
  settings: Settings;
  store: Store;
  lifecycle: Lifecycle;
  log: Logger;
  /** The base URL nodes use to reach us, e.g. http://10.77.0.1:8080. */
  publicUrl: string;
  inventory: () => Inventory | undefined;
  inventoryStatus: () => InventoryStatus;
  /** Console lines per node (absent when the console receiver is off). */
  console?: ConsoleLog;
  /** Reimage with the Talos Reset attached; without one, reimage only marks. */
  reimager?: Reimager;
  /** Power state read from the nodes' BMCs (the daemon polls; made on first use otherwise). */
  power?: PowerMonitor;
  /** Serial-over-LAN capture while nodes PXE-boot (absent when the console buffer is off). */
  sol?: SolCapture;
  /** The daemon's Talos API service (absent outside `serve`: the page then reads the store's record). */
  talosService?: () => TalosServiceState;
  /** Service counters for /metrics (DHCP, TFTP, console, …). */
  metricsSources?: MetricsSource[];
  /** Who is behind a peer address on the provisioning network (default: the kernel's neighbour table; tests give a fake). */
  requesterIdentity?: RequesterIdentity;
  /** Where a generated admin token is shown, once (default: stderr). */
  announce?: (line: string) => void;
  /** day2-config: plan and apply per node (absent: the page's day-2 API answers 503). */
  day2?: Pick<Day2Service, 'plan' | 'apply'>;
}
