// The upstream Talos config JSON schemas live beside the repo in
// ../shared/talos/ (never copied in). In CI a missing schema is a failure;
// elsewhere the tests that need it skip and say why.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SCHEMA_DIR = resolve(repoRoot, '../shared/talos');
export const SCHEMA_VERSIONS = ['v1.11', 'v1.12'] as const;

export function schemaFile(v: string): string {
  return resolve(SCHEMA_DIR, `config.schema.${v}.json`);
}

export function missingSchemas(): string | undefined {
  const missing = SCHEMA_VERSIONS.map(schemaFile).filter((f) => !existsSync(f));
  if (missing.length === 0) return undefined;
  const why = `Talos config schema not found: ${missing.join(', ')}`;
  if (process.env.CI) throw new Error(`${why} (required in CI)`);
  return why;
}

export function compileTalosSchema(v: string): ValidateFunction {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  return ajv.compile(JSON.parse(readFileSync(schemaFile(v), 'utf8')));
}
