import * as z from 'zod/mini';
import { ProtectedSettingsSchema, PublicSettingsSchema } from './settings.js';

/** The JSON Schema published in manifest/, generated from the zod schemas (never hand-edited). */
export function settingsJsonSchema(): Record<string, unknown> {
  const opts = { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' } as const;
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    title: 'Docker extension settings',
    description:
      'Public settings (publicSettings / "settings") and protected settings (protectedSettings), as accepted by the handler. ' +
      'Generated from handler/agent/settings.ts by `npm run schema`.',
    type: 'object',
    properties: {
      publicSettings: z.toJSONSchema(PublicSettingsSchema, opts),
      protectedSettings: z.toJSONSchema(ProtectedSettingsSchema, opts),
    },
  };
}
