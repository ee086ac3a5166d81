// Shared state behind a set of fake Talos nodes: the etcd cluster they form,
// the kubeconfig archive they stream, and checks on applied machine configs.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type { ConfigValidator } from '../../src/lab/fake-talos/cluster.js';

export * from '../../src/lab/fake-talos/cluster.js';

/** ../shared/talos/ relative to the repo root. */
export const SCHEMA_FILE = fileURLToPath(new URL('../../../shared/talos/config.schema.v1.11.json', import.meta.url));

/**
 * The upstream Talos v1.11 config schema, or why it is unavailable. Under
 * CI a missing schema is an error: CI must have it.
 */
export function loadConfigSchema(file = SCHEMA_FILE): { validate: ConfigValidator } | { missing: string } {
  if (!existsSync(file)) {
    const why = `Talos config schema not found at ${file}`;
    if (process.env.CI) throw new Error(why);
    return { missing: why };
  }
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  (addFormats as unknown as (a: Ajv2020) => void)(ajv);
  const check = ajv.compile(JSON.parse(readFileSync(file, 'utf8')));
  return {
    validate: (doc) => (check(doc) ? undefined : ajv.errorsText(check.errors)),
  };
}

