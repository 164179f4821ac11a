import { closest } from './closest.js';
import { isRegistryHost } from './registry-host.js';

// The one sanitiser every output goes through: status, heartbeat, events, handler.log and
// monitor.log lines, and the command's stdout/stderr. Messages never quote a protected value on
// purpose; this is the last line of defence for the one that slips through (an error that quotes
// a setting, a tool's output, a stack trace).
//
// The secrets are registered as soon as they are known: right after decryption, before the
// settings are even validated, so that a secret pasted as a key name or into the wrong field is
// covered too. A process-wide registry, because the writers (pino's stream hook above all) have no
// context to carry them in, and because a secret once seen must stay scrubbed for the rest of the
// process, whatever module writes next.

/** Shorter values would scrub ordinary words out of every message for no protection worth having. */
const MIN_SECRET_CHARS = 4;
/** A line of a PEM block or of wrapped base64: long enough to be key material, never prose. */
const MIN_LINE_CHARS = 16;
export const REDACTED = '[redacted]';

const needles = new Set<string>();
let sorted: string[] = [];

/**
 * Every form in which a secret may appear in an output: as given, trimmed, base64-encoded, each
 * line of a PEM or wrapped base64 block (one quoted line is a piece of a private key), the PEM a
 * base64 value decodes to, and each of those JSON-escaped (a log line is JSON, a PEM's newlines become "\n").
 */
export function secretForms(value: string): string[] {
  const out = new Set<string>();
  const add = (s: string): void => {
    if (s.length < MIN_SECRET_CHARS) return;
    out.add(s);
    const escaped = JSON.stringify(s).slice(1, -1);
    if (escaped !== s) out.add(escaped);
  };
  const addWithLines = (s: string): void => {
    add(s);
    add(s.trim());
    for (const line of s.split(/\r?\n|\r/)) {
      const t = line.trim();
      if (t.length >= MIN_LINE_CHARS && !t.startsWith('-----')) add(t);
    }
  };
  addWithLines(value);
  // A credential travels base64-encoded too (an auth header, a docker config's "auth").
  if (value.length >= MIN_SECRET_CHARS && !value.includes('\n')) {
    const encoded = Buffer.from(value).toString('base64');
    add(encoded);
    add(encoded.replace(/=+$/, ''));
  }
  // The old extension's form: base64 of the PEM file. Its decoded lines are the key's lines.
  const compact = value.replace(/\s+/g, '');
  if (compact.length >= MIN_LINE_CHARS && compact.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(compact)) {
    add(compact);
    const decoded = Buffer.from(compact, 'base64').toString('utf8');
    if (decoded.includes('-----BEGIN ')) addWithLines(decoded);
  }
  return [...out];
}

/** Adds secrets to the registry of this process; from now on every output is scrubbed of them. */
export function registerSecrets(values: Iterable<string>): void {
  let grew = false;
  for (const v of values) {
    for (const f of secretForms(v)) {
      if (!needles.has(f)) {
        needles.add(f);
        grew = true;
      }
    }
  }
  // Longest first, so that a whole key is replaced before any of its lines.
  if (grew) sorted = [...needles].sort((a, b) => b.length - a.length);
}

/** Forgets every registered secret (tests; a process never needs it). */
export function clearSecrets(): void {
  needles.clear();
  sorted = [];
}

/** The text with every registered secret (and every one in `extra`) replaced by [redacted]. */
export function sanitise(text: string, extra: readonly string[] = []): string {
  let out = text;
  const list = extra.length ? [...new Set([...sorted, ...extra.flatMap(secretForms)])].sort((a, b) => b.length - a.length) : sorted;
  for (const n of list) if (out.includes(n)) out = out.split(n).join(REDACTED);
  return out;
}

/**
 * A JSON line (handler.log, monitor.log) with every registered secret scrubbed from its strings
 * and keys, and still valid JSON: a secret such as "1234" or "true" must not turn `"pid":1234`
 * into `"pid":[redacted]`. Parsed only when a secret occurs in it at all (the usual line is
 * returned as is); a line that is not JSON is scrubbed as text.
 */
export function sanitiseJsonLine(line: string): string {
  if (!sorted.some((n) => line.includes(n))) return line;
  const nl = line.endsWith('\n') ? '\n' : '';
  try {
    return JSON.stringify(sanitiseValue(JSON.parse(line) as unknown)) + nl;
  } catch {
    return sanitise(line);
  }
}

/** A copy of a JSON value with every string and key sanitised. */
export function sanitiseValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return sanitise(v);
  if (!v || typeof v !== 'object') return v;
  // A log line is shallow; anything deeper than this is scrubbed as text.
  if (depth > 64) return sanitise(JSON.stringify(v));
  if (Array.isArray(v)) return v.map((x) => sanitiseValue(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[sanitise(k)] = sanitiseValue(x, depth + 1);
  return out;
}

// The key names of the protected settings schema: not secret, and so common ("password", "key")
// that scrubbing them would blank every message. Any other key in the protected settings is user
// data (an environment variable's name, or a secret pasted as a key by mistake).
// The reserved names validation refuses (and names in its message) are no secret either.
const PROTECTED_SCHEMA_KEYS = new Set(['certs', 'ca', 'cert', 'key', 'issuer', 'login', 'server', 'username', 'password', 'email', 'environment', '__proto__', 'constructor', 'prototype']);

/**
 * Every secret in decrypted protected settings as they came, before validation: each string
 * value and each key name that is not one of the schema's own, at any depth. Iterative, so that
 * hostile nesting cannot overflow the stack before validation refuses it. The one exception is a
 * login.server that is a registry host name: shown in the status, and scrubbing a host such as
 * docker.io would blank the package's name out of every message.
 */
export function protectedSecrets(raw: unknown): string[] {
  const out: string[] = [];
  const server = (raw as { login?: { server?: unknown } } | null)?.login?.server;
  const stack: unknown[] = [raw];
  // No bound but the input's own: the settings file is size-capped, and every node is visited once.
  while (stack.length) {
    const v = stack.pop();
    if (typeof v === 'string') {
      if (!(v === server && isRegistryHost(v))) out.push(v);
    }
    // A number where a string belongs may be a PIN or a password all the same.
    else if (typeof v === 'number') out.push(String(v));
    else if (Array.isArray(v)) for (const x of v) stack.push(x);
    else if (v && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        // A typo of a schema key ("cert" for "certs") is no secret, and scrubbing it would blank
        // the very hint that names the right key ("did you mean "certs"?").
        if (!PROTECTED_SCHEMA_KEYS.has(k) && !closest(k, [...PROTECTED_SCHEMA_KEYS])) out.push(k);
        stack.push((v as Record<string, unknown>)[k]);
      }
    }
  }
  return out;
}
