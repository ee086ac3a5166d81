import { loadInventoryFile } from '../../src/inventory/load.js';
import { loadSettings } from '../../src/settings/settings.js';
import { generateSecrets, type SecretsBundle } from '../../src/talos/secrets.js';
import type { Inventory } from '../../src/inventory/types.js';

let cached: Promise<SecretsBundle> | undefined;
/** One bundle per test file: RSA-4096 generation is the slow part. */
export function testSecrets(): Promise<SecretsBundle> {
  cached ??= generateSecrets();
  return cached;
}

export function exampleInventory(file = 'cluster.yaml'): Inventory {
  const r = loadInventoryFile(new URL(`../../inventory/${file}`, import.meta.url).pathname);
  if (!r.ok) throw new Error(r.errors.map((e) => e.message).join('\n'));
  return r.inventory;
}

export const defaultSettings = () => loadSettings({ config: undefined }, '/nonexistent-dir-for-defaults');
