// Lab and test use only.
// The schematic a configured fake node runs, as a Talos node built by the
// Image Factory shows it: among its system extensions (COSI type
// ExtensionStatuses.runtime.talos.dev, namespace runtime, ids "0", "1", …;
// spec = extensions.Layer {image, metadata {name, version, …}},
// pkg/machinery/resources/runtime/extension_status.go v1.12.0) is one named
// "schematic" whose version is the schematic ID (the factory adds it; the
// node-label controller skips it by that name,
// internal/app/machined/pkg/controllers/k8s/node_label_spec_test.go v1.12.0).
// The fake runs the schematic of the installer it was last upgraded with,
// else of the install image its config names; a non-factory image lists no
// schematic extension.
import { parse } from 'yaml';
import { fakeUpgrade } from './upgrade.js';

export const EXTENSION_STATUS_TYPE = 'ExtensionStatuses.runtime.talos.dev';

/** The schematic ID an installer reference names (…/<metal-|>installer/<64 hex>:<tag>), if any. */
export function imageSchematic(image: string | undefined): string | undefined {
  return image ? /\/(?:metal-)?installer\/([0-9a-f]{64}):[^/]+$/.exec(image)?.[1] : undefined;
}

/** The node's ExtensionStatus resources: just the factory's "schematic" layer, when it runs one. */
export function extensionStatuses(schematic: string | undefined): { namespace: string; type: string; id: string; spec: Record<string, unknown> }[] {
  if (!schematic) return [];
  return [{ namespace: 'runtime', type: EXTENSION_STATUS_TYPE, id: '0', spec: { image: '', metadata: { name: 'schematic', version: schematic } } }];
}

/** The schematic the node runs now: of its last upgrade's installer, else of the install image in the last config it took. */
export function runningSchematic(n: { applied: readonly { data: Buffer }[] }): string | undefined {
  const upgraded = fakeUpgrade(n).schematic;
  if (upgraded !== undefined) return upgraded;
  const last = n.applied.at(-1)?.data.toString();
  if (!last) return undefined;
  try {
    return imageSchematic((parse(last) as { machine?: { install?: { image?: string } } })?.machine?.install?.image);
  } catch {
    return undefined;
  }
}
