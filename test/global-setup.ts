// Tests that run the CLI or the daemon as a child process need dist/ to match src/.
// A run killed while it held a disk (held-disk.ts) left it frozen and mounted: cleared before this run starts.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { clearLeftovers } from './helpers/held-disk.js';

export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, [`${root}node_modules/typescript/bin/tsc`, '-p', `${root}tsconfig.json`], { stdio: 'inherit', cwd: root });
  if (process.getuid?.() === 0) clearLeftovers();
}
