// Types for scripts/doc-examples.mjs, so that TypeScript tests can import it under strict mode.
export function docExampleBlocks(root: string): Array<{ doc: string; example: string; shown: string; actual: string }>;
