// The old extension's users wrote compose file format v1: services at the top level, no
// `services` key (its README's memcached/ghost example). Compose v2 no longer reads that format,
// so v1 documents are converted once, here, to file format 2.4: every v1 service key is valid
// there, compose v2 reads it (the compose specification is a superset), and so does every
// docker-compose 1.x from 1.21 on, Debian 11's 1.25 included. Without the `version` key a 1.x
// before 1.27 would read the converted file as v1 again ("services" taken as a service). Pure.

export interface Converted {
  document: Record<string, unknown>;
  /** What was converted, for the status (empty when the document already had `services`). */
  notes: string[];
}

/** The file format converted documents are written in (see above). */
export const CONVERTED_FORMAT = '2.4';

/** Top-level keys of the compose specification (and of file formats 2 and 3). */
const SPEC_TOP_LEVEL = new Set(['version', 'name', 'services', 'networks', 'volumes', 'secrets', 'configs', 'include']);

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A v1 document is one without `services`: every top-level key is a service. */
function isVersion1(doc: Record<string, unknown>): boolean {
  return !('services' in doc) && Object.keys(doc).some((k) => !SPEC_TOP_LEVEL.has(k) && !k.startsWith('x-'));
}

export function toComposeSpec(doc: Record<string, unknown>): Converted {
  if (!isVersion1(doc)) return { document: doc, notes: [] };
  const services: Record<string, unknown> = {};
  const notes = new Set<string>();
  for (const [name, svc] of Object.entries(doc)) {
    if (name.startsWith('x-') || SPEC_TOP_LEVEL.has(name)) continue;
    services[name] = isObject(svc) ? convertService(svc, notes) : svc;
  }
  const document: Record<string, unknown> = { version: CONVERTED_FORMAT, services };
  return { document, notes: [`"compose" is in compose file format v1 (services at the top level); it is written as file format ${CONVERTED_FORMAT} (under "services"${notes.size ? `; ${[...notes].join(', ')}` : ''}), which every compose reads`] };
}

/** v1 service keys that the specification spells differently. */
function convertService(svc: Record<string, unknown>, notes: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(svc)) {
    switch (k) {
      case 'net':
        // v1 "net": "host" | "bridge" | "none" | "container:<name>" is the spec's network_mode.
        out['network_mode'] = v;
        notes.add('"net" as "network_mode"');
        break;
      case 'log_driver':
        out['logging'] = { ...(isObject(out['logging']) ? out['logging'] : {}), driver: v };
        notes.add('"log_driver"/"log_opt" as "logging"');
        break;
      case 'log_opt':
        out['logging'] = { ...(isObject(out['logging']) ? out['logging'] : {}), options: v };
        notes.add('"log_driver"/"log_opt" as "logging"');
        break;
      case 'dockerfile':
        // v1 put the Dockerfile next to "build" (a path); the spec nests both under "build".
        out['build'] = { ...(isObject(out['build']) ? out['build'] : typeof out['build'] === 'string' ? { context: out['build'] } : {}), dockerfile: v };
        notes.add('"dockerfile" under "build"');
        break;
      case 'build':
        out['build'] = isObject(out['build']) && typeof v === 'string' ? { ...out['build'], context: v } : v;
        break;
      default:
        // links, external_links, volumes_from, ports, environment, ...: the same in the spec.
        out[k] = v;
    }
  }
  return out;
}
