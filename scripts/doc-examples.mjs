// The docs show each file of docs/examples in full, after a marker line:
//
//   <!-- example: examples/arm/vm-extension.json -->
//   ```json
//   ...the file...
//   ```
//
// `node scripts/doc-examples.mjs` rewrites every such block from its file, so that an example is
// edited (and tested, test/system/docs-examples.test.ts) in one place only.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MARKER = /^<!-- example: (\S+) -->\n(`{3,})([\w-]*)\n([\s\S]*?)^\2$/gm;

/** Every marked block of every docs/*.md: the doc, the example's path (from docs/), what is shown, and the file's text. */
export function docExampleBlocks(root) {
  const docs = path.join(root, 'docs');
  return readdirSync(docs)
    .filter((f) => f.endsWith('.md'))
    .flatMap((doc) =>
      [...readFileSync(path.join(docs, doc), 'utf8').matchAll(MARKER)].map((m) => ({
        doc: `docs/${doc}`,
        example: m[1],
        shown: m[4],
        actual: readFileSync(path.join(docs, m[1]), 'utf8'),
      })),
    );
}

function rewrite(root) {
  const docs = path.join(root, 'docs');
  for (const doc of readdirSync(docs).filter((f) => f.endsWith('.md'))) {
    const file = path.join(docs, doc);
    const before = readFileSync(file, 'utf8');
    const after = before.replace(MARKER, (_all, example, fence, lang) => {
      const text = readFileSync(path.join(docs, example), 'utf8');
      return `<!-- example: ${example} -->\n${fence}${lang}\n${text.endsWith('\n') ? text : text + '\n'}${fence}`;
    });
    if (after !== before) {
      writeFileSync(file, after);
      console.log(`rewrote the examples in docs/${doc}`);
    }
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  rewrite(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..'));
}
