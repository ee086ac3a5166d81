// What the Talos-artifact commands load before they can do anything: the
// settings, a valid inventory, and (for configs) the secrets bundle. Each
// failure is one plain line saying what to run.
import { loadInventoryFile } from '../inventory/load.js';
import type { Inventory } from '../inventory/types.js';
import type { Settings } from '../settings/settings.js';
import { loadSecrets, type SecretsBundle } from '../talos/secrets.js';
import { settingsFor, type Io, type ParsedArgs } from './command.js';

export function inventoryFor(settings: Settings, io: Io): Inventory | undefined {
  const inv = loadInventoryFile(settings.inventory, settings);
  if (!inv.ok) {
    io.err(`rackboot: the inventory ${settings.inventory} is invalid; run rackboot inventory check`);
    return undefined;
  }
  return inv.inventory;
}

export function secretsFor(settings: Settings, io: Io): SecretsBundle | undefined {
  try {
    return loadSecrets(settings.dataDir);
  } catch (err) {
    io.err(`rackboot: ${(err as Error).message}`);
    return undefined;
  }
}

export function clusterInputs(args: ParsedArgs, io: Io, need: { secrets: boolean }):
  { settings: Settings; inventory: Inventory; secrets?: SecretsBundle } | undefined {
  const settings = settingsFor(args, io);
  if (!settings) return undefined;
  const inventory = inventoryFor(settings, io);
  if (!inventory) return undefined;
  if (!need.secrets) return { settings, inventory };
  const secrets = secretsFor(settings, io);
  return secrets ? { settings, inventory, secrets } : undefined;
}
