import type { Logger } from '../log.js';
import type { Settings } from '../settings/settings.js';
import type { Store } from '../store/store.js';
import type { Lifecycle } from '../lifecycle/lifecycle.js';
import type { Inventory } from '../inventory/types.js';
import type { InventoryStatus } from '../inventory/watch.js';

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
}
