import { expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { settingsJsonSchema } from '../../../handler/agent/settings-json-schema.js';

test('manifest/settings.schema.json is what the zod schemas generate (run `npm run schema`)', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const committed = JSON.parse(readFileSync(path.join(root, 'manifest/settings.schema.json'), 'utf8'));
  expect(committed).toEqual(JSON.parse(JSON.stringify(settingsJsonSchema())));
});

test('a key without a description, or a description without a key, stops the generator', async () => {
  const { PUBLIC_SETTINGS_DOCS } = await import('../../../handler/agent/settings-docs.js');
  const saved = PUBLIC_SETTINGS_DOCS['docker.port']!;
  try {
    delete PUBLIC_SETTINGS_DOCS['docker.port'];
    expect(() => settingsJsonSchema()).toThrow('settings-docs.ts has no description for "docker.port": add one (with an example)');
    PUBLIC_SETTINGS_DOCS['docker.port'] = saved;
    PUBLIC_SETTINGS_DOCS['docker.prot'] = saved;
    expect(() => settingsJsonSchema()).toThrow('settings-docs.ts describes docker.prot, which the schema does not have');
  } finally {
    PUBLIC_SETTINGS_DOCS['docker.port'] = saved;
    delete PUBLIC_SETTINGS_DOCS['docker.prot'];
  }
});
