// Image Factory schematics. The factory names a schematic by the hex sha256
// of its YAML, written the way the upstream Go encoder (gopkg.in/yaml.v3)
// writes it: 4-space indent, list items indented under their key, keys in
// struct order, empty values left out. The struct order upstream is
// overlay{image,name,options}, then customization{extraKernelArgs, meta,
// systemExtensions{officialExtensions}, secureboot{includeWellKnownCertificates}}
// (siderolabs/image-factory pkg/schematic/schematic.go). Lists are neither
// sorted nor de-duplicated upstream, so neither are they here: the same list
// in another order is another schematic.
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';

export interface MetaValue {
  /** META key, 0..255 (a uint8 upstream). */
  key: number;
  value: string;
}

export interface SchematicInput {
  extensions: string[];
  extraKernelArgs: string[];
  meta?: MetaValue[];
  secureBoot?: { includeWellKnownCertificates?: boolean };
  overlay?: { image: string; name: string; options?: Record<string, unknown> };
}

export type SchematicDocument = { overlay?: Record<string, unknown>; customization: Record<string, unknown> };

/** The schematic document, with keys in upstream struct order and empty parts omitted. */
export function schematicDocument(input: SchematicInput): SchematicDocument {
  const customization: Record<string, unknown> = {};
  if (input.extraKernelArgs.length > 0) customization.extraKernelArgs = [...input.extraKernelArgs];
  if (input.meta && input.meta.length > 0) {
    for (const m of input.meta) {
      if (!Number.isInteger(m.key) || m.key < 0 || m.key > 255) throw new RangeError(`schematic meta key ${m.key} is not a uint8`);
    }
    customization.meta = input.meta.map((m) => ({ key: m.key, value: m.value }));
  }
  if (input.extensions.length > 0) customization.systemExtensions = { officialExtensions: [...input.extensions] };
  if (input.secureBoot?.includeWellKnownCertificates) customization.secureboot = { includeWellKnownCertificates: true };
  const doc: SchematicDocument = { customization };
  if (input.overlay) {
    const overlay: Record<string, unknown> = { image: input.overlay.image, name: input.overlay.name };
    if (input.overlay.options && Object.keys(input.overlay.options).length > 0) overlay.options = sortedKeys(input.overlay.options);
    return { overlay, customization };
  }
  return doc;
}

// yaml.v3 writes Go maps with their keys sorted.
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortedKeys((value as Record<string, unknown>)[k])]));
  }
  return value;
}

// yaml.v3 double-quotes strings a YAML 1.1 reader would take for something
// else (y/yes/on/off…, base-60 numbers like 1:20, timestamps); the npm yaml
// encoder does the same in 1.1 mode, so such kernel args hash as upstream.
export function schematicYaml(input: SchematicInput): string {
  return stringify(schematicDocument(input), { indent: 4, indentSeq: true, version: '1.1' });
}

/** Ids by the input's JSON: every iPXE script asks, and the YAML encoder took far longer than the lookup (issue 19, storm profile). */
const idsByInput = new Map<string, string>();
const IDS_KEPT = 32;

export function schematicId(input: SchematicInput): string {
  const key = JSON.stringify(input);
  const known = idsByInput.get(key);
  if (known !== undefined) return known;
  const id = createHash('sha256').update(schematicYaml(input)).digest('hex');
  if (idsByInput.size >= IDS_KEPT) idsByInput.clear();
  idsByInput.set(key, id);
  return id;
}

/**
 * The installer image the factory serves for this schematic and version
 * (metal platform). Secure Boot: the installer whose UKI and systemd-boot are
 * signed with the Factory's key, named with the "-secureboot" suffix as
 * talosctl names it (cmd/talosctl/cmd/mgmt/cluster/create/clusterops/
 * configmaker/preset/preset.go and preset_test.go, v1.12.0).
 */
export function installerImage(factoryUrl: string, schematic: string, talosVersion: string, secureBoot = false): string {
  const host = new URL(factoryUrl).host;
  return `${host}/metal-installer${secureBoot ? '-secureboot' : ''}/${schematic}:${talosVersion}`;
}
