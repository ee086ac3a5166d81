// The schematic a node runs, asked of the node itself: an Image Factory
// build lists a system extension named "schematic" whose version is the
// schematic ID (ExtensionStatuses.runtime.talos.dev, what `talosctl get
// extensions` shows; pkg/machinery/resources/runtime/extension_status.go,
// v1.12.0). Version says nothing of it, so a schematic change at the same
// Talos version is only seen here.
import { parse } from 'yaml';
import type { TalosClient } from '../talos/client.js';

export const EXTENSION_STATUS = { namespace: 'runtime', type: 'ExtensionStatuses.runtime.talos.dev' } as const;

/** The schematic ID, or undefined when the node lists no "schematic" extension (not a factory image). */
export async function runningSchematic(c: TalosClient): Promise<string | undefined> {
  for (const r of await c.listResources(EXTENSION_STATUS.namespace, EXTENSION_STATUS.type)) {
    const spec = parse(r.spec?.yaml_spec ?? '') as { metadata?: { name?: string; version?: string } } | null;
    if (spec?.metadata?.name === 'schematic' && spec.metadata.version) return spec.metadata.version;
  }
  return undefined;
}
