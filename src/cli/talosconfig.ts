import { join, resolve } from 'node:path';
import { renderTalosconfig } from '../talos/talosconfig.js';
import { writeSecretFile } from '../talos/secrets.js';
import { clusterInputs } from './cluster-inputs.js';
import { EXIT_FAILURE, EXIT_OK, type Command } from './command.js';

export const talosconfig: Command = {
  name: ['talosconfig'],
  summary: 'write the admin talosconfig for talosctl',
  usage: `rackboot talosconfig [--out FILE]

Writes a talosctl client config (mode 0600): one context named after the
cluster, the control planes as endpoints, and a fresh admin certificate
(O=os:admin, Ed25519, valid one year) signed by the cluster's OS CA.
Default FILE: DATA_DIR/talosconfig. --out - prints it instead.
Use it with: talosctl --talosconfig FILE ...`,
  options: { out: { type: 'string' } },
  async run(args, io) {
    const inputs = clusterInputs(args, io, { secrets: true });
    if (!inputs) return EXIT_FAILURE;
    const text = await renderTalosconfig(inputs.inventory, inputs.secrets!);
    const out = (args.values.out as string | undefined) ?? join(inputs.settings.dataDir, 'talosconfig');
    if (out === '-') {
      io.out(text.trimEnd());
      return EXIT_OK;
    }
    writeSecretFile(resolve(out), text);
    io.out(`wrote ${resolve(out)} (mode 0600); context ${inputs.inventory.cluster.name}`);
    return EXIT_OK;
  },
};
