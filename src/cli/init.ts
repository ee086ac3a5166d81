import { resolve } from 'node:path';
import { initSecrets } from '../talos/secrets.js';
import { EXIT_FAILURE, EXIT_OK, settingsFor, type Command } from './command.js';

export const init: Command = {
  name: ['init'],
  summary: 'create the cluster secrets bundle (data/secrets.yaml), once',
  usage: `rackboot init [--import FILE]

Creates DATA_DIR/secrets.yaml (mode 0600) in the shape \`talosctl gen secrets\`
writes: the OS CA (Ed25519), etcd, Kubernetes and aggregator CAs (ECDSA
P-256), the service-account key (RSA-4096), the bootstrap and trustd tokens,
the cluster id/secret and the secretbox key. It never overwrites an existing
bundle: a second run changes nothing and says so.

  --import FILE   adopt an existing secrets.yaml from \`talosctl gen secrets\`
                  (checked first; copied unchanged, mode 0600)`,
  options: { import: { type: 'string' } },
  async run(args, io) {
    const settings = settingsFor(args, io);
    if (!settings) return EXIT_FAILURE;
    const importFrom = args.values.import as string | undefined;
    const r = await initSecrets(settings.dataDir, { importFrom: importFrom ? resolve(importFrom) : undefined });
    if (r.created) {
      io.out(`${importFrom ? 'imported' : 'created'} ${r.file} (mode 0600)`);
      return EXIT_OK;
    }
    io.err(`rackboot init: ${r.reason}`);
    // Asking to import over an existing bundle is a failure; a plain re-run is not.
    return importFrom ? EXIT_FAILURE : EXIT_OK;
  },
};
