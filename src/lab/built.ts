// The lab starts rackboot's own programs as processes; they must be the
// built JavaScript. From dist/ that is next to this module; from src/ (under
// vitest) it is the same path under dist/.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = here.endsWith('/src/lab') ? join(here, '..', '..', 'dist') : join(here, '..');

/** `rel` is relative to dist/, e.g. cli.js or lab/fake-talos/main.js. */
export function builtPath(rel: string): string {
  return join(DIST, rel);
}
