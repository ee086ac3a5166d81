// Opens the daemon's store from a CLI command (the shared one with scaleOut.postgres). SQLite's WAL lets this run
// beside a live daemon; before the daemon has ever run, the inventory is
// loaded first so the nodes exist.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadInventoryFile } from '../inventory/load.js';
import type { Settings } from '../settings/settings.js';
import { SharedStore } from '../store/pg/shared-store.js';
import { Store } from '../store/store.js';
import type { Io } from './command.js';

export function openStoreForCli(settings: Settings, io: Io): Store | undefined {
  const dbFile = join(settings.dataDir, 'rackboot.db');
  const fresh = !existsSync(dbFile);
  // With scaleOut.postgres, nodes, events and discovered machines are read and marked where the daemons read them.
  const conninfo = settings.scaleOut?.postgres;
  const store = conninfo ? new SharedStore(dbFile, conninfo) : new Store(dbFile);
  if (fresh || store.listNodes({ includeRemoved: true }).length === 0) {
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
