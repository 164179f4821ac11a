// Everything the settings alone can get wrong, in one pass and one message: the settings
// themselves, the dockerd options and the certificates. A typo and an expired certificate are
// reported together, so that one deployment shows every fix to make, and nothing is changed.
import * as z from 'zod/mini';
import { CertsSchema, collectSettings, givenServerCerts, settingsError, type Certs, type HandlerSettings } from '../agent/settings.js';
import { certificateProblems } from './certs.js';
import { issuerProblems } from './issuance.js';
import { translateDockerOptions } from './options.js';

/**
 * The settings, validated as parseSettings does, plus what the engine's prepare() would refuse
 * later. The deeper checks also run when another setting is wrong, on whichever part can still
 * be read (the options when they are a list of strings, the certificates when they are PEM).
 * Throws one ConfigError with every problem. Warnings (a certificate that expires soon) are the
 * engine's to report, with the rest of what it finds.
 */
export function preflight(rawPublic: unknown, rawProtected: unknown, now: number): HandlerSettings {
  const r = collectSettings(rawPublic, rawProtected);
  const problems = [...r.problems];

  const options = r.settings?.public.docker.options ?? stringsAt(r.normalised.public, ['docker', 'options']);
  if (options) problems.push(...translateDockerOptions(options).problems);

  const certs = r.settings ? r.settings.protected.certs : readableCerts(r.normalised.protected);
  if (certs?.issuer) problems.push(...issuerProblems(certs.issuer, now).problems);
  const given = givenServerCerts(certs);
  if (given) problems.push(...certificateProblems(given, now).problems);

  if (problems.length > 0 || !r.settings) throw settingsError(problems);
  return r.settings;
}

function stringsAt(v: unknown, path: readonly string[]): string[] | undefined {
  for (const k of path) v = v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>)[k] : undefined;
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
}

/** The certificates when they read as PEM, even if another setting is wrong; else undefined. */
function readableCerts(prot: unknown): Certs | undefined {
  const raw = prot && typeof prot === 'object' ? (prot as { certs?: unknown }).certs : undefined;
  const r = z.safeParse(CertsSchema, raw);
  return r.success ? r.data : undefined;
}
