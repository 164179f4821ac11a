// The published JSON Schema (manifest/settings.schema.json) as the tests load it: ajv 8 for draft-07,
// as editors and ARM tooling load it, compiled once. Strict, so that a keyword ajv does not know or a
// type left out fails; except strictRequired, which wants each "required" of an if/then/not to repeat
// the properties its parent defines.
import { Ajv } from 'ajv';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const publishedSchema = JSON.parse(readFileSync(path.join(ROOT, 'manifest/settings.schema.json'), 'utf8')) as { $schema?: string; properties?: Record<string, unknown> };

/** Validates `{ publicSettings, protectedSettings }`; its `errors` say why not. */
export const validateSettings = new Ajv({ strict: true, strictRequired: false, allErrors: true }).compile(publishedSchema);

/** What the schema finds wrong with `doc`, one line each; empty when it is valid. */
export function schemaProblems(doc: unknown): string[] {
  return validateSettings(doc) ? [] : (validateSettings.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}
