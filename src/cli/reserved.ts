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
];
