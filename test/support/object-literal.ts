// Reads the settings objects out of the Bicep, Terraform and PowerShell examples in docs/examples,
// for which no parser is installed here. It takes the one subset of each language that settings
// are written in, and refuses anything else with the line it stopped at, so an example that
// outgrows the subset fails its test instead of being half read:
//
//   Bicep       { key: value }, items on their own lines or separated by commas; [ ... ]; 'text'
//   Terraform   jsonencode({ key = value }) (or key: value); [ a, b ]; "text"
//   PowerShell  @{ key = value }, separated by newlines or ';'; @( a, b ); 'text'; $true/$false
//
// Values are strings without interpolation, numbers, booleans, null, nested objects and lists,
// and references (a parameter, `data.x.y.value`, `$variable`), which are looked up in `refs`: a
// test gives every secret a value, and an unknown reference is an error naming it.

export type Dialect = 'bicep' | 'terraform' | 'powershell';
export type Value = string | number | boolean | null | Value[] | { [k: string]: Value };

type Token =
  | { t: 'open'; c: '{' | '[' | '('; at: number }
  | { t: 'close'; c: '}' | ']' | ')'; at: number }
  | { t: 'assign'; at: number }
  | { t: 'sep'; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'word'; v: string; at: number };

/**
 * The object that starts at the first `{` (Bicep, Terraform) or `@{` (PowerShell) right after the
 * first match of `anchor` in `text` at or after offset `from`.
 */
export function objectAfter(text: string, anchor: RegExp, dialect: Dialect, refs: Record<string, Value>, from = 0): { [k: string]: Value } {
  const re = new RegExp(anchor.source, anchor.flags.replace('g', '') + 'g');
  re.lastIndex = from;
  const m = re.exec(text);
  if (!m) throw new Error(`${dialect} example: nothing matches ${anchor} after offset ${from}`);
  return new Parser(text, m.index + m[0].length, dialect, refs).object();
}

class Parser {
  private tokens: Token[] = [];
  private i = 0;
  constructor(
    private readonly text: string,
    start: number,
    private readonly dialect: Dialect,
    private readonly refs: Record<string, Value>,
  ) {
    this.tokens = tokenize(text, start, dialect);
  }

  private where(at: number): string {
    const line = this.text.slice(0, at).split('\n').length;
    return `line ${line} ("${this.text.split('\n')[line - 1]?.trim()}")`;
  }

  private fail(tok: Token | undefined, what: string): never {
    throw new Error(`${this.dialect} example: ${what} at ${tok ? this.where(tok.at) : 'the end of the file'}`);
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }

  private skipSeps(): void {
    while (this.peek()?.t === 'sep') this.i++;
  }

  object(): { [k: string]: Value } {
    this.skipSeps();
    const open = this.tokens[this.i++];
    if (open?.t !== 'open' || open.c !== '{') this.fail(open, 'expected an object');
    const out: { [k: string]: Value } = {};
    for (;;) {
      this.skipSeps();
      const tok = this.tokens[this.i++];
      if (tok?.t === 'close' && tok.c === '}') return out;
      if (tok?.t !== 'word' && tok?.t !== 'str') this.fail(tok, 'expected a key');
      const eq = this.tokens[this.i++];
      if (eq?.t !== 'assign') this.fail(eq, `expected ${this.dialect === 'bicep' ? "':'" : "'='"} after "${tok.v}"`);
      if (Object.hasOwn(out, tok.v)) this.fail(tok, `"${tok.v}" given twice`);
      out[tok.v] = this.value();
      const after = this.peek();
      if (after?.t !== 'sep' && !(after?.t === 'close' && after.c === '}')) this.fail(after, 'expected a new line, a separator or }');
    }
  }

  private list(close: ']' | ')'): Value[] {
    const out: Value[] = [];
    for (;;) {
      this.skipSeps();
      const tok = this.peek();
      if (tok?.t === 'close' && tok.c === close) {
        this.i++;
        return out;
      }
      out.push(this.value());
      const after = this.peek();
      if (after?.t !== 'sep' && !(after?.t === 'close' && after.c === close)) this.fail(after, `expected a separator or ${close}`);
    }
  }

  private value(): Value {
    const tok = this.peek();
    if (!tok) this.fail(tok, 'expected a value');
    if (tok.t === 'open' && tok.c === '{') return this.object();
    this.i++;
    if (tok.t === 'open' && (tok.c === '[' || tok.c === '(')) return this.list(tok.c === '[' ? ']' : ')');
    if (tok.t === 'str') return tok.v;
    if (tok.t !== 'word') this.fail(tok, 'expected a value');
    const literals: Record<string, Value> =
      this.dialect === 'powershell' ? { $true: true, $false: false, $null: null } : { true: true, false: false, null: null };
    if (Object.hasOwn(literals, tok.v)) return literals[tok.v]!;
    if (/^-?\d+(\.\d+)?$/.test(tok.v)) return Number(tok.v);
    if (Object.hasOwn(this.refs, tok.v)) return this.refs[tok.v]!;
    this.fail(tok, `"${tok.v}" is neither a literal nor one of the references the test knows (${Object.keys(this.refs).join(', ')})`);
  }
}

/** Tokens from `start` until the first value's brackets close. */
function tokenize(text: string, start: number, dialect: Dialect): Token[] {
  const out: Token[] = [];
  let depth = 0;
  let i = start;
  const assign = dialect === 'bicep' ? ':' : '=';
  const comment = dialect === 'bicep' ? '//' : '#';
  while (i < text.length) {
    const c = text[i]!;
    if (c === '\n' || c === ',' || (c === ';' && dialect === 'powershell')) {
      if (depth > 0) out.push({ t: 'sep', at: i });
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') {
      i++;
    } else if (text.startsWith(comment, i)) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (dialect === 'powershell' && c === '@' && (text[i + 1] === '{' || text[i + 1] === '(')) {
      out.push({ t: 'open', c: text[i + 1] as '{' | '(', at: i });
      depth++;
      i += 2;
    } else if ((c === '{' && dialect !== 'powershell') || c === '[') {
      out.push({ t: 'open', c, at: i });
      depth++;
      i++;
    } else if (c === '}' || c === ']' || (c === ')' && dialect === 'powershell')) {
      out.push({ t: 'close', c, at: i });
      depth--;
      i++;
      if (depth === 0) return out;
    } else if (c === assign || (dialect === 'terraform' && c === ':')) {
      out.push({ t: 'assign', at: i });
      i++;
    } else if (c === "'" && dialect !== 'terraform') {
      const [v, end] = singleQuoted(text, i, dialect);
      out.push({ t: 'str', v, at: i });
      i = end;
    } else if (c === '"' && dialect === 'terraform') {
      const end = closingQuote(text, i);
      const raw = text.slice(i, end);
      if (raw.includes('${')) throw new Error(`terraform example: a string with interpolation at offset ${i} is outside what the test reads`);
      out.push({ t: 'str', v: JSON.parse(raw) as string, at: i });
      i = end;
    } else {
      const m = /^\$?[A-Za-z0-9_.-]+/.exec(text.slice(i));
      if (!m || (depth === 0 && out.length === 0)) {
        throw new Error(`${dialect} example: "${text.slice(i, i + 20)}" at offset ${i} is outside what the test reads (literals, references, objects, lists)`);
      }
      out.push({ t: 'word', v: m[0], at: i });
      i += m[0].length;
    }
  }
  throw new Error(`${dialect} example: the object starting at offset ${start} is not closed`);
}

/** Bicep escapes with a backslash; PowerShell doubles the quote. Interpolation is refused. */
function singleQuoted(text: string, at: number, dialect: Dialect): [string, number] {
  let v = '';
  let i = at + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (dialect === 'bicep' && c === '\\') {
      v += text[i + 1];
      i += 2;
    } else if (dialect === 'bicep' && c === '$' && text[i + 1] === '{') {
      throw new Error(`bicep example: a string with interpolation at offset ${at} is outside what the test reads`);
    } else if (c === "'" && dialect === 'powershell' && text[i + 1] === "'") {
      v += "'";
      i += 2;
    } else if (c === "'") {
      return [v, i + 1];
    } else {
      v += c;
      i++;
    }
  }
  throw new Error(`${dialect} example: the string at offset ${at} is not closed`);
}

function closingQuote(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === '"') return i + 1;
  }
  throw new Error(`terraform example: the string at offset ${at} is not closed`);
}
