// Plain-Node bench scripts reuse TypeScript (test helpers, service entry
// points) by bundling it with rolldown. The bundle goes under the repo's
// test-output/, not /tmp, so its bare imports (better-sqlite3, pino) still
// resolve from node_modules.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '..', '..');

/**
 * Bundles each entry ({name: repo-relative .ts path}) into `dir` as
 * NAME.mjs and returns {name: absolute file}.
 */
export async function bundleTs(entries, outDir) {
  const { build } = await import('rolldown');
  const dir = resolve(outDir);
  mkdirSync(dir, { recursive: true });
  const input = Object.fromEntries(Object.entries(entries).map(([name, path]) => [name, join(REPO, path)]));
  await build({ input, platform: 'node', external: [/^[^./]/], logLevel: 'silent', output: { dir, format: 'esm', entryFileNames: '[name].mjs' } });
  return Object.fromEntries(Object.keys(entries).map((name) => [name, join(dir, `${name}.mjs`)]));
}
