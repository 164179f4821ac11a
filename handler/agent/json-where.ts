// Where a JSON text goes wrong, as line:column, for messages about a file. JSON.parse's own
// message is no good here: on Node 20 it quotes the text around the error, and the text may be
// the protected settings. This scanner only says where and what was expected, never what it read.

export interface JsonSyntaxProblem {
  line: number;
  column: number;
  expected: string;
}

const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const LITERAL = /true|false|null/y;
const WHITESPACE = /[ \t\n\r]*/y;

/** The first syntax error of `text` (without a leading BOM), or undefined when it is valid JSON. Iterative: any depth. */
export function jsonSyntaxProblem(text: string): JsonSyntaxProblem | undefined {
  const stack: string[] = [];
  let i = 0;
  let state: 'value' | 'valueOrEnd' | 'key' | 'keyOrEnd' | 'colon' | 'after' = 'value';
  const at = (re: RegExp): boolean => {
    re.lastIndex = i;
    if (!re.test(text)) return false;
    i = re.lastIndex;
    return true;
  };
  const fail = (expected: string): JsonSyntaxProblem => ({ ...lineColumn(text, i), expected });
  for (;;) {
    at(WHITESPACE);
    const c = text[i];
    if (state === 'value' || state === 'valueOrEnd') {
      if (state === 'valueOrEnd' && c === ']') {
        stack.pop();
        i++;
        state = 'after';
      } else if (c === '{' || c === '[') {
        stack.push(c);
        i++;
        state = c === '{' ? 'keyOrEnd' : 'valueOrEnd';
      } else if (c === '"' ? at(STRING) : at(NUMBER) || at(LITERAL)) state = 'after';
      else return fail(c === '"' ? 'a string closed by " (with valid escapes and no raw line break)' : c === undefined ? 'a value, but the text ends' : 'a value (an object, array, string in double quotes, number, true, false or null)');
    } else if (state === 'key' || state === 'keyOrEnd') {
      if (state === 'keyOrEnd' && c === '}') {
        stack.pop();
        i++;
        state = 'after';
      } else if (c === '"' && at(STRING)) state = 'colon';
      else return fail('a property name in double quotes');
    } else if (state === 'colon') {
      if (c !== ':') return fail('":" after the property name');
      i++;
      state = 'value';
    } else {
      const top = stack[stack.length - 1];
      if (top === undefined) return c === undefined ? undefined : fail('the end of the text (something follows the JSON value)');
      const close = top === '{' ? '}' : ']';
      if (c === ',') {
        i++;
        state = top === '{' ? 'key' : 'value';
      } else if (c === close) {
        stack.pop();
        i++;
      } else return fail(c === undefined ? `"${close}", but the text ends` : `"," or "${close}"`);
    }
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  for (let k = text.indexOf('\n'); k !== -1 && k < offset; k = text.indexOf('\n', k + 1)) {
    line++;
    start = k + 1;
  }
  return { line, column: offset - start + 1 };
}

/** " at line L, column C (expected …)" for a message, or "" when the scanner finds nothing. */
export function jsonWhere(text: string): string {
  const p = jsonSyntaxProblem(text);
  return p ? ` at line ${p.line}, column ${p.column} (expected ${p.expected})` : '';
}
