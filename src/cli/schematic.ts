import { schematicId, schematicYaml, type SchematicInput } from '../factory/schematic.js';
import { clusterInputs } from './cluster-inputs.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command } from './command.js';

export const schematic: Command = {
  name: ['schematic'],
  summary: 'print the Image Factory schematic and its ID',
  usage: `rackboot schematic [--extension NAME]... [--kernel-arg ARG]... [--json]

Prints the schematic YAML and its ID, computed exactly as Image Factory
computes it (sha256 of the canonical YAML). With no --extension or
--kernel-arg it uses the inventory's cluster.schematic. --json prints
{"id": ..., "yaml": ...} instead.`,
  options: {
    extension: { type: 'string', multiple: true },
    'kernel-arg': { type: 'string', multiple: true },
    json: { type: 'boolean' },
  },
  async run(args, io) {
    const extensions = (args.values.extension as string[] | undefined) ?? [];
    const kernelArgs = (args.values['kernel-arg'] as string[] | undefined) ?? [];
    for (const a of kernelArgs) if (/\s/.test(a) || a === '') throw new UsageError(`--kernel-arg ${JSON.stringify(a)} must be one argument without spaces`);
    let input: SchematicInput;
    if (extensions.length > 0 || kernelArgs.length > 0) {
      input = { extensions, extraKernelArgs: kernelArgs };
    } else {
      const inputs = clusterInputs(args, io, { secrets: false });
      if (!inputs) return EXIT_FAILURE;
      input = inputs.inventory.cluster.schematic;
    }
    const yaml = schematicYaml(input);
    const id = schematicId(input);
    if (args.values.json) io.out(JSON.stringify({ id, yaml }));
    else io.out(`${yaml}\nID: ${id}`);
    return EXIT_OK;
  },
};
