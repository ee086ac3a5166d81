// Opens the daemon's store from a CLI command (the shared one with scaleOut.postgres). SQLite's WAL lets this run
// beside a live daemon; before the daemon has ever run, the inventory is
// loaded first so the nodes exist.
import { join } from 'node:path';
import { loadInventoryFile } from '../inventory/load.js';
import type { Settings } from '../settings/settings.js';
import { SharedStore } from '../store/pg/shared-store.js';
import { Store } from '../store/store.js';
import type { Io } from './command.js';

/** The daemon's store as it is: with scaleOut.postgres, nodes, events, discovered machines and the shared cluster state are read and written where the daemons read them. */
export function openStore(settings: Settings): Store {
  const dbFile = join(settings.dataDir, 'rackboot.db');
  const conninfo = settings.scaleOut?.postgres;
  return conninfo ? new SharedStore(dbFile, conninfo) : new Store(dbFile);
}

export function openStoreForCli(settings: Settings, io: Io): Store | undefined {
  const store = openStore(settings);
  // No node yet (a fresh file, or a shared database no appliance has loaded): with scaleOut.postgres, a fresh local file alone is no reason.
  if (store.listNodes({ includeRemoved: true }).length === 0) {
    const inv = loadInventoryFile(settings.inventory);
    if (!inv.ok) {
      io.err(`rackboot: the inventory ${settings.inventory} is invalid; run rackboot inventory check`);
      store.close();
      return undefined;
    }
    store.syncInventory(inv.inventory);
  }
  return store;
}
