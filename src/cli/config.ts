import { resolve } from 'node:path';
import { configForNode } from '../talos/config/node-config.js';
import { SelectorNotExpressible } from '../talos/disk-selector.js';
import { configuredPublicUrl } from '../net/public-url.js';
import { writeSecretFile } from '../talos/secrets.js';
import { clusterInputs } from './cluster-inputs.js';
import { EXIT_FAILURE, EXIT_OK, UsageError, type Command } from './command.js';

export const config: Command = {
  name: ['config'],
  summary: "render a node's Talos machine config",
  usage: `rackboot config NODE [--out FILE]

Prints NODE's complete machine config (what \`talosctl gen config\` would give
for its role and the inventory's Talos version, with the node's hostname,
address and install disk, then the cluster, role and node patches in that
order). It holds the cluster's secrets: --out writes it mode 0600.`,
  options: { out: { type: 'string' } },
  async run(args, io) {
    const name = args.positionals[0];
    if (!name || args.positionals.length > 1) throw new UsageError('give exactly one NODE name');
    const inputs = clusterInputs(args, io, { secrets: true });
    if (!inputs) return EXIT_FAILURE;
    const node = inputs.inventory.nodes.find((n) => n.name === name);
    if (!node) {
      io.err(`rackboot config: no node ${JSON.stringify(name)} in ${inputs.settings.inventory} (nodes: ${inputs.inventory.nodes.map((n) => n.name).join(', ')})`);
      return EXIT_FAILURE;
    }
    // The same document the node gets, KmsgLogConfig included; with no disk
    // list here, an install-disk selector goes out as upstream's diskSelector.
    let text: string;
    try {
      text = configForNode(inputs.inventory.cluster, node, { settings: inputs.settings, publicUrl: configuredPublicUrl(inputs.settings), secrets: inputs.secrets! });
    } catch (err) {
      if (!(err instanceof SelectorNotExpressible)) throw err;
      io.err(`rackboot config: ${name}: ${err.message}`);
      return EXIT_FAILURE;
    }
    const out = args.values.out as string | undefined;
    if (out) {
      writeSecretFile(resolve(out), text);
      io.out(`wrote ${resolve(out)} (mode 0600)`);
    } else {
      io.out(text.trimEnd());
    }
    return EXIT_OK;
  },
};
