// `reimage` and `discovered` are built (src/cli/reimage.ts, src/cli/discovered.ts).
// Command names reserved so the CLI grows as one design. Each says plainly
// that it is not built yet and which piece of work brings it.
import { EXIT_FAILURE, type Command } from './command.js';

function reserved(name: string[], summary: string, comesWith: string): Command {
  return {
    name,
    summary: `${summary} (not built yet)`,
    usage: `rackboot ${name.join(' ')}\n\n${summary}. Not built yet: it comes with ${comesWith}.`,
    async run(_args, io) {
      io.err(`rackboot ${name.join(' ')}: not built yet (comes with ${comesWith})`);
      return EXIT_FAILURE;
    },
  };
}

export const reservedCommands: Command[] = [
  reserved(['init'], 'create the cluster secrets bundle', 'the Talos artifacts work'),
  reserved(['config'], 'render a node\'s machine config', 'the Talos artifacts work'),
  reserved(['talosconfig'], 'write the admin talosconfig', 'the Talos artifacts work'),
  reserved(['schematic'], 'print the Image Factory schematic and its ID', 'the Talos artifacts work'),
  reserved(['assets', 'fetch'], 'download Talos boot assets into the cache', 'the Talos artifacts work'),
  reserved(['lab'], 'run a virtual rack of QEMU machines', 'the end-to-end work'),
];
