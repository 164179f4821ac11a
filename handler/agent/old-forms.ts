// The forms the retired Go extension accepted, brought to the ones the schema takes. It parsed
// settings with Go's encoding/json: a field name matched whatever its capitals ("Docker",
// "Port"), an empty string or null was the same as no value, and `"certs": {}` or a login without
// username and password meant none. Admins' templates still hold these forms, so each is taken
// in its old meaning and named in one warning saying what to write instead. Keys the old
// extension never had are left alone: an unknown key stays an error (with a suggestion).

export type Side = 'public' | 'protected';

/** 'string': an old string field, where "" meant "not set"; a tree: an old object. */
type OldField = 'string' | 'other' | OldTree;
interface OldTree {
  [key: string]: OldField;
}

/** The old extension's settings, as its Go structs declared them. */
const OLD_FIELDS: Record<Side, OldTree> = {
  public: {
    docker: { port: 'string', options: 'other' },
    compose: 'other',
    'compose-environment': 'other',
    'azure-environment': 'string',
  },
  protected: {
    certs: { ca: 'string', cert: 'string', key: 'string' },
    login: { server: 'string', username: 'string', password: 'string', email: 'string' },
    environment: 'other',
  },
};

/** Objects whose emptiness meant "none": the old extension skipped them unless filled in. */
const NONE_WHEN_EMPTY: Record<Side, Record<string, { lacks: string; means: string }>> = {
  public: {},
  protected: {
    certs: { lacks: 'no values', means: 'no TLS certificates' },
    login: { lacks: 'no username and password', means: 'no registry login' },
  },
};

export interface OldFormsResult {
  value: unknown;
  warnings: string[];
  problems: string[];
}

/**
 * Go's case-insensitive match (bytes.EqualFold plus its two special folds: the Kelvin sign for
 * "k" and the long s for "s"); the old names are ASCII, so this is the whole of it.
 */
function fold(k: string): string {
  return k.toLowerCase().replace(/\u017f/g, 's');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * One side's raw settings (already free of reserved keys and bounded in depth) → the same with
 * the old forms replaced. Pure. A protected key is only ever named by its canonical spelling:
 * the spelling the admin used is not shown, as nothing of the protected settings is.
 */
export function normaliseOldForms(raw: unknown, side: Side): OldFormsResult {
  const warnings: string[] = [];
  const problems: string[] = [];
  const value = walk(raw, OLD_FIELDS[side], []);
  return { value, warnings, problems };

  function name(path: readonly string[]): string {
    return `${side} setting "${path.join('.')}"`;
  }

  function walk(v: unknown, tree: OldTree, path: string[]): unknown {
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = {};
    const spelledAs = new Map<string, string>();
    const canonicalByFold = new Map(Object.keys(tree).map((k) => [fold(k), k]));
    for (const given of Object.keys(v)) {
      const canonical = Object.prototype.hasOwnProperty.call(tree, given) ? given : canonicalByFold.get(fold(given));
      if (canonical === undefined) {
        // Not an old key: the schema judges it (a new key, or an unknown one with a suggestion).
        out[given] = v[given];
        continue;
      }
      const at = [...path, canonical];
      const earlier = spelledAs.get(canonical);
      if (earlier !== undefined) {
        problems.push(
          side === 'public'
            ? `${name(at)} is given twice, as "${earlier}" and "${given}" (names are matched whatever their capitals): keep only "${canonical}"`
            : `${name(at)} is given twice, with different capitals: keep only "${canonical}"`,
        );
        continue;
      }
      spelledAs.set(canonical, given);
      if (given !== canonical) {
        warnings.push(
          side === 'public'
            ? `${name(at)} is written "${given}": setting names are lower case; write "${canonical}"`
            : `${name(at)} is written with capitals: setting names are lower case; write "${canonical}"`,
        );
      }
      const field = tree[canonical]!;
      let x = v[given];
      if (x === null) {
        warnings.push(`${name(at)} is null, which is taken as not set: remove it`);
        continue;
      }
      if (field === 'string' && x === '') {
        warnings.push(`${name(at)} is an empty string, which is taken as not set: remove it`);
        continue;
      }
      if (typeof field === 'object' && isPlainObject(x)) {
        const before = warnings.length;
        x = walk(x, field, at);
        const none = NONE_WHEN_EMPTY[side][at.join('.')];
        if (none !== undefined && isPlainObject(x) && emptyMeansNone(canonical, x)) {
          // One warning for the whole object rather than one per empty value in it.
          warnings.splice(before);
          warnings.push(`${name(at)} has ${none.lacks} (${none.means}, as the old extension took it): remove "${canonical}"`);
          continue;
        }
      }
      out[canonical] = x;
    }
    return out;
  }
}

/**
 * certs: nothing left (the old extension installed certificates only when all three were given).
 * login: neither username nor password (it logged in only with both); server and email alone
 * never did anything. Anything else stays for the schema, which says what is missing.
 */
function emptyMeansNone(key: string, x: Record<string, unknown>): boolean {
  const keys = Object.keys(x);
  if (key === 'certs') return keys.length === 0;
  if (key === 'login') return keys.every((k) => k === 'server' || k === 'email');
  return false;
}
