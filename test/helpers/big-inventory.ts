// A large inventory for reload tests and the bench: the example rack
// (inventory/cluster.yaml, so its nodes and their MACs stay) plus `extra`
// generated workers, each with its own MAC and reserved address.
import { readFileSync } from 'node:fs';

export const EXAMPLE_INVENTORY = new URL('../../inventory/cluster.yaml', import.meta.url);

export function bigInventoryYaml(extra: number, opts: { duplicateMacs?: boolean; installDisk?: string } = {}): string {
  const lines = [readFileSync(EXAMPLE_INVENTORY, 'utf8').trimEnd()];
  for (let i = 0; i < extra; i++) {
    const h = (opts.duplicateMacs ? 0 : i).toString(16).padStart(4, '0');
    lines.push(`  - name: bulk-${i}`, `    mac: 52:54:01:00:${h.slice(0, 2)}:${h.slice(2)}`, '    role: worker',
      `    ip: 10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`);
    if (opts.installDisk) lines.push(`    installDisk: ${opts.installDisk}`);
  }
  return lines.join('\n') + '\n';
}
