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
