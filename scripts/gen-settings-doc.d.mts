// Types for scripts/gen-settings-doc.mjs, so that TypeScript tests can import it under strict mode.
export function settingsDoc(schema: unknown): string;
