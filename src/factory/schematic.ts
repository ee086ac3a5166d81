// Image Factory schematics. The factory names a schematic by the hex sha256
// of its YAML, written the way the upstream Go encoder writes it: 4-space
// indent, list items indented under their key, keys in struct order, empty
// values left out. Lists are neither sorted nor de-duplicated upstream, so
// neither are they here: the same list in another order is another schematic.
import { createHash } from 'node:crypto';
import { stringify } from 'yaml';

export interface SchematicInput {
  extensions: string[];
  extraKernelArgs: string[];
}

/** The schematic document, with keys in upstream struct order and empty parts omitted. */
export function schematicDocument(input: SchematicInput): { customization: Record<string, unknown> } {
  const customization: Record<string, unknown> = {};
  if (input.extraKernelArgs.length > 0) customization.extraKernelArgs = [...input.extraKernelArgs];
  if (input.extensions.length > 0) customization.systemExtensions = { officialExtensions: [...input.extensions] };
  return { customization };
}

export function schematicYaml(input: SchematicInput): string {
  return stringify(schematicDocument(input), { indent: 4, indentSeq: true });
}

export function schematicId(input: SchematicInput): string {
  return createHash('sha256').update(schematicYaml(input)).digest('hex');
}
