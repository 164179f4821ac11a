// (system) The admin documentation's examples, run or read as an admin's tools would:
// - the openssl recipes (docs/examples/certificates) run for real, and what they make passes the
//   handler's own certificate checks with no warning;
// - the protected-settings scripts (jq) write a 0600 file that the handler's validation accepts,
//   and the built bundle's dry run plans with it (against a copied Debian 12 tree, with and without
//   an engine: the sovereign-cloud mirror, the registry login and the compose project are in the plan);
// - the ARM templates are parsed as JSON; the Bicep, Terraform and PowerShell files through
//   test/support/object-literal.ts, a strict reader of the subset settings are written in (no Bicep
//   or PowerShell parser is installed; where terraform is, it checks main.tf and evaluates each
//   jsonencode(...) to compare with the reader);
// - the jq recipes run on logs written by the handler's own loggers, and on a `status --json` report;
// - every settings object found is validated twice: by the published JSON Schema
//   (manifest/settings.schema.json, with ajv) and by the handler's validation (parseSettings, the
//   docker.options translation, the certificate or issuer checks), with the certificates made above;
// - every example file is shown in the docs, byte for byte as it is in docs/examples, and the
//   settings reference is what scripts/gen-settings-doc.mjs makes of the published schema.
// The mutual TLS of the recipe's certificates with a real dockerd is test/integration/docker/docs-certificates.test.ts.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { publishedSchema, schemaProblems } from '../support/settings-schema.js';
import { givenServerCerts } from '../../handler/agent/settings.js';
import { certificateProblems } from '../../handler/docker/certs.js';
import { checkIssuer } from '../../handler/docker/issuance.js';
import { preflight } from '../../handler/docker/preflight.js';
import { createLogger } from '../../handler/log/logger.js';
import { LineLog } from '../../handler/log/line-log.js';
import { parseHandlerEnvironment } from '../../handler/agent/handler-env.js';
import { buildStatusReport } from '../../handler/status/report.js';
import { makeDryRunTree, dryRunFiles } from '../support/dry-run-tree.js';
import { objectAfter, type Dialect, type Value } from '../support/object-literal.js';
import { docExampleBlocks } from '../../scripts/doc-examples.mjs';
import { settingsDoc } from '../../scripts/gen-settings-doc.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const EXAMPLES = path.join(ROOT, 'docs/examples');
const ex = (p: string) => readFileSync(path.join(EXAMPLES, p), 'utf8');

let work: string;
let tls: string;
const pemOf = (name: string) => readFileSync(path.join(tls, name), 'utf8');

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'docs-examples-'));
  tls = path.join(work, 'docker-tls');
  execFileSync('sh', [path.join(EXAMPLES, 'certificates/make-certs.sh'), tls, 'myvm.westeurope.cloudapp.azure.com', '20.31.42.53'], { stdio: 'pipe' });
  execFileSync('sh', [path.join(EXAMPLES, 'certificates/make-issuer.sh'), tls], { stdio: 'pipe' });
});

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

// The examples are validated as {publicSettings, protectedSettings}: a schema shaped otherwise
// would let them through without looking at them.
test('the published schema validates {publicSettings, protectedSettings}', () => {
  expect(Object.keys(publishedSchema.properties ?? {})).toEqual(expect.arrayContaining(['publicSettings', 'protectedSettings']));
});

/**
 * Every check the handler makes of settings before it changes anything, with no warning allowed;
 * certificates required unless the example serves the local socket only (`certs: false`).
 */
function expectValid(pub: unknown, prot: unknown, opts: { certs?: boolean } = {}): void {
  expect(schemaProblems({ publicSettings: pub, protectedSettings: prot })).toEqual([]);
  // Settings, dockerd options and certificates in the one pass enable makes (throws on any problem).
  const now = Date.now();
  const s = preflight(pub, prot, now);
  expect(s.warnings ?? []).toEqual([]);
  const given = givenServerCerts(s.protected.certs);
  if (given) expect(certificateProblems(given, now).warnings).toEqual([]);
  if (opts.certs !== false) expect(given || s.protected.certs?.issuer).toBeTruthy();
}

describe('the certificate recipes (openssl, for real)', () => {
  test('make-certs.sh: a CA, a server certificate with the DNS name and IP as subjectAltName, a client certificate; keys 0600', () => {
    for (const f of ['ca-key.pem', 'server-key.pem', 'client-key.pem']) expect(statSync(path.join(tls, f)).mode & 0o777).toBe(0o600);
    const text = execFileSync('openssl', ['x509', '-in', path.join(tls, 'server-cert.pem'), '-noout', '-ext', 'subjectAltName,extendedKeyUsage'], { encoding: 'utf8' });
    expect(text).toContain('DNS:myvm.westeurope.cloudapp.azure.com');
    expect(text).toContain('IP Address:20.31.42.53');
    expect(text).toContain('TLS Web Server Authentication');
    const client = execFileSync('openssl', ['x509', '-in', path.join(tls, 'client-cert.pem'), '-noout', '-ext', 'extendedKeyUsage'], { encoding: 'utf8' });
    expect(client).toContain('TLS Web Client Authentication');
    execFileSync('openssl', ['verify', '-CAfile', path.join(tls, 'ca.pem'), path.join(tls, 'server-cert.pem'), path.join(tls, 'client-cert.pem')], { stdio: 'pipe' });
  });

  test('the server certificate passes the handler\'s checks with no warning (key matches, chains to the CA, serverAuth, subjectAltName)', () => {
    const check = certificateProblems({ ca: pemOf('ca.pem'), cert: pemOf('server-cert.pem'), key: pemOf('server-key.pem') }, Date.now());
    expect(check.warnings).toEqual([]);
    expect(check.problems).toEqual([]);
    expect(check.facts?.subjectAltName).toContain('DNS:myvm.westeurope.cloudapp.azure.com');
  });

  test('make-issuer.sh: an issuing CA the handler accepts for certs.issuer', () => {
    expect(statSync(path.join(tls, 'issuer-key.pem')).mode & 0o777).toBe(0o600);
    checkIssuer({ cert: pemOf('issuer.pem'), key: pemOf('issuer-key.pem') }, Date.now());
  });

  test('protected-settings.sh (jq): a 0600 file in each mode that the schema and the handler accept; a wrong mode is named', () => {
    for (const [mode, pub] of [
      ['cert', 'az-cli/public-settings.json'],
      ['issuer', 'az-cli/public-settings-issuer.json'],
    ] as const) {
      const out = path.join(work, `protected-${mode}.json`);
      execFileSync('sh', [path.join(EXAMPLES, 'az-cli/protected-settings.sh'), mode, tls, out], { stdio: 'pipe' });
      expect(statSync(out).mode & 0o777).toBe(0o600);
      expectValid(JSON.parse(ex(pub)), JSON.parse(readFileSync(out, 'utf8')));
    }
    let stderr = '';
    try {
      execFileSync('sh', [path.join(EXAMPLES, 'az-cli/protected-settings.sh'), 'certs', tls, path.join(work, 'x.json')], { stdio: 'pipe' });
    } catch (e) {
      stderr = String((e as { stderr: Buffer }).stderr);
    }
    expect(stderr).toContain('the first argument is cert or issuer, not "certs"');
  });

  test('the dry run troubleshooting.md shows, with these settings files, on a copied Debian 12 with docker.io: a plan, in each mode', () => {
    for (const [mode, pub, expected] of [
      ['cert', 'az-cli/public-settings.json', /2376/],
      ['issuer', 'az-cli/public-settings-issuer.json', /would issue a new server certificate and key on this VM/],
    ] as const) {
      const root = path.join(work, `tree-${mode}`);
      makeDryRunTree(root, 'debian-12');
      const r = dryRunFiles(path.join(EXAMPLES, pub), path.join(work, `protected-${mode}.json`), root);
      expect([mode, r.code]).toEqual([mode, 0]);
      expect(r.out).toMatch(expected);
    }
  });

  test('add-registry-login.sh (jq, the password on stdin): the login joins the certificates in a 0600 file; with the China cloud settings, schema and handler accept it', () => {
    const out = path.join(work, 'protected-login.json');
    execFileSync('sh', [path.join(EXAMPLES, 'az-cli/protected-settings.sh'), 'cert', tls, out], { stdio: 'pipe' });
    // as `az keyvault secret show … -o tsv` gives it: with a line break at the end
    execFileSync('sh', [path.join(EXAMPLES, 'az-cli/add-registry-login.sh'), out, 'myregistry.azurecr.io', 'puller'], { input: 'pull-token-0123\n', stdio: ['pipe', 'pipe', 'pipe'] });
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readdirSync(work).filter((f) => f.startsWith('protected-login.json.'))).toEqual([]);
    const prot = JSON.parse(readFileSync(out, 'utf8')) as { certs: unknown; login: unknown };
    expect(prot.login).toEqual({ server: 'myregistry.azurecr.io', username: 'puller', password: 'pull-token-0123' });
    expect(prot.certs).toEqual({ ca: pemOf('ca.pem'), cert: pemOf('server-cert.pem'), key: pemOf('server-key.pem') });
    for (const pub of ['az-cli/public-settings.json', 'az-cli/public-settings-china.json']) expectValid(JSON.parse(ex(pub)), prot);
  });

  test('the dry run with the login: on a copied Debian 12 without Docker, docker-ce from the Azure China mirror; with docker.io, the login planned for root; the password never shown', () => {
    const bare = path.join(work, 'tree-china');
    makeDryRunTree(bare, 'debian-12', { engine: false });
    const china = dryRunFiles(path.join(EXAMPLES, 'az-cli/public-settings-china.json'), path.join(work, 'protected-login.json'), bare);
    expect(china.code).toBe(0);
    expect(china.out).toContain('install docker-ce docker-ce-cli containerd.io with apt from https://mirror.azure.cn/docker-ce/linux/debian');
    // what follows an install (the login among it) is planned again once the engine is there
    const withEngine = path.join(work, 'tree-login');
    makeDryRunTree(withEngine, 'debian-12');
    const login = dryRunFiles(path.join(EXAMPLES, 'az-cli/public-settings.json'), path.join(work, 'protected-login.json'), withEngine);
    expect(login.code).toBe(0);
    expect(login.out).toContain('log in to myregistry.azurecr.io for root (credentials checked by dockerd, stored in /root/.docker/config.json)');
    for (const r of [china, login]) expect(r.out).not.toContain('pull-token-0123');
  });

  test('add-environment.sh (jq, the value on stdin): the compose project\'s secret joins the certificates and the login in a 0600 file; with the compose settings, schema and handler accept it', () => {
    const out = path.join(work, 'protected-compose.json');
    execFileSync('sh', [path.join(EXAMPLES, 'az-cli/protected-settings.sh'), 'cert', tls, out], { stdio: 'pipe' });
    execFileSync('sh', [path.join(EXAMPLES, 'az-cli/add-registry-login.sh'), out, 'myregistry.azurecr.io', 'puller'], { input: 'pull-token-0123\n', stdio: ['pipe', 'pipe', 'pipe'] });
    for (const [name, value] of [['DB_PASSWORD', 'db-secret-4567\n'], ['SMTP_PASSWORD', 'smtp-secret-89']]) {
      execFileSync('sh', [path.join(EXAMPLES, 'az-cli/add-environment.sh'), out, name!], { input: value, stdio: ['pipe', 'pipe', 'pipe'] });
    }
    expect(statSync(out).mode & 0o777).toBe(0o600);
    expect(readdirSync(work).filter((f) => f.startsWith('protected-compose.json.'))).toEqual([]);
    const prot = JSON.parse(readFileSync(out, 'utf8')) as { certs: unknown; login: unknown; environment: unknown };
    expect(prot.environment).toEqual({ DB_PASSWORD: 'db-secret-4567', SMTP_PASSWORD: 'smtp-secret-89' });
    expect(prot.login).toEqual({ server: 'myregistry.azurecr.io', username: 'puller', password: 'pull-token-0123' });
    expect(prot.certs).toEqual({ ca: pemOf('ca.pem'), cert: pemOf('server-cert.pem'), key: pemOf('server-key.pem') });
    expectValid(JSON.parse(ex('az-cli/public-settings-compose.json')), prot);
    // the old extension's form (compose file format v1), local socket only: valid as it is
    expectValid(JSON.parse(ex('az-cli/public-settings-compose-v1.json')), {}, { certs: false });
    let stderr = '';
    try {
      execFileSync('sh', [path.join(EXAMPLES, 'az-cli/add-environment.sh'), out, 'DB-PASSWORD'], { input: 'x', stdio: 'pipe' });
    } catch (e) {
      stderr = String((e as { stderr: Buffer }).stderr);
    }
    expect(stderr).toContain('"DB-PASSWORD" is not a variable name');
  });

  test('the dry run with compose, on a copied Debian 12 with docker.io: Debian\'s docker-compose installed after the proof, the file written 0600, up -d after the login; the v1 document converted; no secret shown', () => {
    const root = path.join(work, 'tree-compose');
    makeDryRunTree(root, 'debian-12');
    const spec = dryRunFiles(path.join(EXAMPLES, 'az-cli/public-settings-compose.json'), path.join(work, 'protected-compose.json'), root);
    expect({ code: spec.code, out: spec.out }).toMatchObject({ code: 0 });
    // the numbered plan's steps, in order
    const at = (re: RegExp) => spec.out.split('\n').findIndex((l) => re.test(l.replace(/^\s+\d+\. /, '')));
    expect(at(/^install docker-compose with apt/)).toBeGreaterThan(at(/^verify /));
    expect(spec.out).toMatch(/^\s+\d+\. write \/etc\/docker\/compose\/docker-compose\.yml \(mode 600, \d+ bytes, sha256 [0-9a-f]{12}\): the compose file is missing$/m);
    expect(spec.out).toMatch(/^\s+\d+\. compose up -d project shop from \/etc\/docker\/compose\/docker-compose\.yml \(environment: COMPOSE_HTTP_TIMEOUT, COMPOSE_PROJECT_NAME, WEB_TAG and 2 protected variable\(s\)\): the compose project is new$/m);
    expect(at(/^log in to myregistry\.azurecr\.io for root/)).toBeGreaterThan(at(/^verify /));
    expect(at(/^compose up -d /)).toBeGreaterThan(at(/^log in to myregistry\.azurecr\.io for root/));
    // protected values never shown, and a protected name only counted (DB_PASSWORD is in the public document too)
    for (const secret of ['db-secret-4567', 'smtp-secret-89', 'SMTP_PASSWORD', 'pull-token-0123']) expect(spec.out).not.toContain(secret);
    writeFileSync(path.join(work, 'protected-empty.json'), '{}');
    const v1 = dryRunFiles(path.join(EXAMPLES, 'az-cli/public-settings-compose-v1.json'), path.join(work, 'protected-empty.json'), root);
    expect(v1.code).toBe(0);
    expect(v1.out).toContain('"compose" is in compose file format v1 (services at the top level); it is written as file format 2.4 (under "services"; "net" as "network_mode"), which every compose reads');
    expect(v1.out).toMatch(/^\s+\d+\. compose up -d project compose from /m);
  });
});

test('logs.sh reads the JSON lines the handler and the monitor really write', () => {
  const logs = path.join(work, 'logs');
  const log = createLogger({ file: path.join(logs, 'handler.log'), bindings: { op: 'enable-worker', seq: 3, version: '2.0.0' } });
  log.info({ event: 'engine reconciled', restarted: 'restart' });
  log.error({ event: 'enable failed', err: 'dockerd did not come up with the new configuration' });
  log.flush();
  const monitor = new LineLog(path.join(logs, 'monitor.log'), { maxBytes: 1 << 20, bindings: { op: 'monitor', version: '2.0.0' } });
  monitor.info({ event: 'heartbeat', status: 'NotReady', message: 'dockerd is not running' });
  monitor.close();
  const out = execFileSync('sh', [path.join(EXAMPLES, 'vm/logs.sh'), '3'], { env: { ...process.env, LOG_DIR: logs }, encoding: 'utf8' });
  expect(out).toMatch(/^== warnings and errors, one line each\n\S+Z enable-worker seq=3 enable failed dockerd did not come up with the new configuration\n/);
  expect(out).toContain('{"time":');
  expect(out).toMatch(/\[30\] enable-worker: engine reconciled/);
  expect(out).toMatch(/\S+Z heartbeat NotReady dockerd is not running/);
});

test('the status recipes in troubleshooting.md (jq on status --json) run on a report with every part', () => {
  const env = parseHandlerEnvironment(
    JSON.stringify([{ name: 'Microsoft.Azure.Extensions.DockerExtension', version: '2.0.0', handlerEnvironment: { logFolder: '/var/log/azure/x', configFolder: '/e/config', statusFolder: '/e/status', heartbeatFile: '/e/heartbeat.log' } }]),
    '/e',
  );
  const report = buildStatusReport({
    now: Date.parse('2026-12-01T10:00:00Z'),
    version: '2.0.0',
    isRoot: true,
    searched: ['/e'],
    env,
    mrseq: 3,
    lastRun: { seq: 3, version: '2.0.0', result: 'success' },
    spec: { kind: 'absent' },
    ping: { socketPath: '/run/docker.sock', ok: true, detail: 'OK', version: '26.1.5', apiVersion: '1.45' },
    cert: { file: '/etc/docker/cert.pem', subject: 'CN=vm1', subjectAltNames: ['DNS:vm1'], notAfter: Date.parse('2027-06-19T00:00:00Z'), fingerprint256: 'AB:CD' },
    drift: [{ path: '/etc/docker/daemon.json', what: 'daemon.json', kind: 'changed', summary: '/etc/docker/daemon.json was edited (key debug)', details: {} }],
    dockerdLog: 'journalctl -u docker',
    workloads: {
      compose: {
        record: { version: 1, project: 'compose', file: '/etc/docker/compose/docker-compose.yml', documentSha256: 'a'.repeat(64), envNames: [], salt: '5'.repeat(64), envFingerprint: 'f'.repeat(64) },
        file: { sha256: 'a'.repeat(64), startedServices: ['web'] },
        containers: { web: { total: 1, running: 0 } },
      },
    },
  });
  const file = path.join(work, 'status.json');
  writeFileSync(file, JSON.stringify(report));
  const doc = readFileSync(path.join(ROOT, 'docs/troubleshooting.md'), 'utf8');
  const recipes = doc.split('\n').filter((l) => /^jq .* status\.json/.test(l));
  expect(recipes.length).toBeGreaterThanOrEqual(4);
  const outputs = recipes.map((l) => {
    const r = spawnSync('sh', ['-c', l.replace(/\s+#.*$/, '')], { cwd: work, encoding: 'utf8' });
    expect(`${l}: ${r.stderr}`).toBe(`${l}: `);
    return r.stdout;
  });
  expect(outputs.join('')).toContain('/etc/docker/daemon.json: /etc/docker/daemon.json was edited (key debug)');
  expect(outputs.join('')).toContain('web 0/1\n');
  expect(outputs.join('')).toMatch(/compose project compose: service web has 0 of 1 containers running/);
});

describe('the deployment examples: their settings match the schema and the handler', () => {
  const pems = () => ({
    ca: pemOf('ca.pem'),
    cert: pemOf('server-cert.pem'),
    key: pemOf('server-key.pem'),
    issuerCert: pemOf('issuer.pem'),
    issuerKey: pemOf('issuer-key.pem'),
  });

  /** ARM: "[parameters('x')]" in the protected settings is the secure parameter x. */
  const armSecrets = (v: unknown, params: Record<string, string>): unknown => {
    if (typeof v === 'string') {
      const m = /^\[parameters\('(\w+)'\)\]$/.exec(v);
      if (!m) return v;
      expect(Object.keys(params)).toContain(m[1]);
      return params[m[1]!];
    }
    if (Array.isArray(v)) return v.map((x) => armSecrets(x, params));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, armSecrets(x, params)]));
    return v;
  };

  /** The Docker extension's resources in an ARM template: publisher, type, version and settings. */
  function armExtensions(doc: unknown): Array<{ publisher: string; type: string; typeHandlerVersion: string; settings: unknown; protectedSettings: unknown }> {
    const found: Array<{ publisher: string; type: string; typeHandlerVersion: string; settings: unknown; protectedSettings: unknown }> = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (o.type === 'DockerExtension' && o.publisher) found.push(o as never);
        Object.values(o).forEach(walk);
      }
    };
    walk(doc);
    return found;
  }

  // One VM with its own certificates (vm-extension), with a registry login besides (vm-extension-login),
  // and with a compose project and its secret (vm-extension-compose).
  const armVm = {
    'vm-extension': ['caCertificate', 'serverCertificate', 'serverKey'],
    'vm-extension-login': ['caCertificate', 'serverCertificate', 'serverKey', 'registryPassword'],
    'vm-extension-compose': ['caCertificate', 'serverCertificate', 'serverKey', 'dbPassword'],
  } as const;

  test.each(Object.entries(armVm))('ARM, one VM (%s.json): JSON, a secure parameter for every certificate and password, settings valid', (name, secure) => {
    const doc = JSON.parse(ex(`arm/${name}.json`)) as { parameters: Record<string, { type: string }> };
    for (const p of secure) expect(doc.parameters[p]!.type).toBe('securestring');
    const [e, ...more] = armExtensions(doc);
    expect(more).toEqual([]);
    expect([e!.publisher, e!.type, e!.typeHandlerVersion]).toEqual(['Microsoft.Azure.Extensions', 'DockerExtension', '2.0']);
    const p = pems();
    const params = { caCertificate: p.ca, serverCertificate: p.cert, serverKey: p.key, registryServer: 'myregistry.azurecr.io', registryUsername: 'puller', registryPassword: 'pull-token-0123', dbPassword: 'db-secret-4567' };
    expectValid(e!.settings, armSecrets(e!.protectedSettings, params));
  });

  test.each(Object.keys(armVm))('ARM parameters (%s.parameters.json): every secure parameter is a Key Vault reference, none a value', (name) => {
    const doc = JSON.parse(ex(`arm/${name}.parameters.json`)) as { parameters: Record<string, { value?: unknown; reference?: { keyVault: { id: string }; secretName: string } }> };
    const template = JSON.parse(ex(`arm/${name}.json`)) as { parameters: Record<string, { type: string }> };
    expect(Object.keys(doc.parameters).sort()).toEqual(Object.keys(template.parameters).sort());
    for (const [param, def] of Object.entries(template.parameters)) {
      const given = doc.parameters[param]!;
      if (def.type === 'securestring') {
        expect(given.value).toBeUndefined();
        expect(given.reference!.keyVault.id).toMatch(/\/providers\/Microsoft\.KeyVault\/vaults\//);
      } else expect(given.value).toBeDefined();
    }
  });

  test('ARM, scale set (vmss.json): rolling upgrade with a health extension after ours, certs.issuer from secure parameters', () => {
    const doc = JSON.parse(ex('arm/vmss.json')) as { parameters: Record<string, { type: string }>; resources: Array<{ type: string; properties: Record<string, any> }> };
    const vmss = doc.resources.find((r) => r.type === 'Microsoft.Compute/virtualMachineScaleSets')!;
    expect(vmss.properties.upgradePolicy.mode).toBe('Rolling');
    const exts = vmss.properties.virtualMachineProfile.extensionProfile.extensions as Array<{ name: string; properties: Record<string, unknown> }>;
    expect(exts.find((x) => x.properties.type === 'ApplicationHealthLinux')!.properties.provisionAfterExtensions).toEqual(['DockerExtension']);
    for (const p of ['clientCaCertificate', 'issuerCertificate', 'issuerKey']) expect(doc.parameters[p]!.type).toBe('securestring');
    const [e] = armExtensions(doc);
    expect([e!.publisher, e!.typeHandlerVersion]).toEqual(['Microsoft.Azure.Extensions', '2.0']);
    const p = pems();
    expectValid(e!.settings, armSecrets(e!.protectedSettings, { clientCaCertificate: p.ca, issuerCertificate: p.issuerCert, issuerKey: p.issuerKey }));
  });

  /** From each place the file names the Docker extension's type: its settings and protected settings. */
  function extensionSettings(file: string, dialect: Dialect, marker: RegExp, pub: RegExp, prot: RegExp, refs: Record<string, Value>) {
    const text = ex(file);
    const at = [...text.matchAll(new RegExp(marker.source, 'g'))].map((m) => m.index);
    expect(at.length).toBeGreaterThan(0);
    return at.map((from) => ({ pub: objectAfter(text, pub, dialect, refs, from), prot: objectAfter(text, prot, dialect, refs, from) }));
  }

  test('Bicep (docker-extension.bicep): @secure() parameters from Key Vault (az.getSecret in the .bicepparam), settings valid', () => {
    const text = ex('bicep/docker-extension.bicep');
    expect(text).toMatch(/publisher: 'Microsoft\.Azure\.Extensions'\s+type: 'DockerExtension'\s+typeHandlerVersion: '2\.0'/);
    for (const p of ['caCertificate', 'serverCertificate', 'serverKey']) expect(text).toMatch(new RegExp(`@secure\\(\\)\\s+param ${p} string`));
    const params = ex('bicep/docker-extension.bicepparam');
    for (const p of ['caCertificate', 'serverCertificate', 'serverKey']) expect(params).toMatch(new RegExp(`param ${p} = az\\.getSecret\\(`));
    const p = pems();
    const found = extensionSettings('bicep/docker-extension.bicep', 'bicep', /type: 'DockerExtension'/, /\bsettings:\s*/, /\bprotectedSettings:\s*/, { caCertificate: p.ca, serverCertificate: p.cert, serverKey: p.key });
    expect(found).toHaveLength(1);
    for (const f of found) expectValid(f.pub, f.prot);
  });

  test('Terraform (main.tf): the VM extension and the scale set\'s extension block, secrets from Key Vault data sources, settings valid', () => {
    const text = ex('terraform/main.tf');
    expect(text.match(/publisher\s+= "Microsoft\.Azure\.Extensions"\s+type\s+= "DockerExtension"\s+type_handler_version\s+= "2\.0"/g)).toHaveLength(2);
    const p = pems();
    const secret = (n: string) => `data.azurerm_key_vault_secret.${n}.value`;
    const found = extensionSettings('terraform/main.tf', 'terraform', /type\s+= "DockerExtension"/, /\bsettings\s*=\s*jsonencode\(/, /\bprotected_settings\s*=\s*jsonencode\(/, {
      [secret('docker_ca')]: p.ca,
      [secret('docker_server_cert')]: p.cert,
      [secret('docker_server_key')]: p.key,
      [secret('docker_issuer_cert')]: p.issuerCert,
      [secret('docker_issuer_key')]: p.issuerKey,
    });
    expect(found).toHaveLength(2);
    for (const f of found) expectValid(f.pub, f.prot);
    expect(text).toMatch(/resource "azurerm_linux_virtual_machine_scale_set"[\s\S]*upgrade_mode\s+= "Rolling"/);
    // Terraform's own parser and evaluator, where it is installed (neither needs a provider): the
    // file is well formed, and each jsonencode(...) evaluates to what the subset reader read.
    const fmt = spawnSync('terraform', ['fmt', '-check', '-no-color', path.join(EXAMPLES, 'terraform/main.tf')], { encoding: 'utf8' });
    if (fmt.error) {
      console.warn(`terraform not installed (${fmt.error.message}): main.tf read by the subset reader only`);
      return;
    }
    expect([fmt.status, fmt.stdout]).toEqual([0, '']);
    const placeholders = Object.fromEntries(['docker_ca', 'docker_server_cert', 'docker_server_key', 'docker_issuer_cert', 'docker_issuer_key'].map((n) => [secret(n), `<${n}>`]));
    const home = mkdtempSync(path.join(work, 'terraform-'));
    let compared = 0;
    for (const m of text.matchAll(/\b(settings|protected_settings)\s*=\s*(jsonencode\()/g)) {
      const start = m.index! + m[0].length - 'jsonencode('.length;
      let depth = 0;
      let end = start;
      for (let i = start; i < text.length; i++) {
        if (text[i] === '(') depth++;
        else if (text[i] === ')' && --depth === 0) {
          end = i + 1;
          break;
        }
      }
      let expr = text.slice(start, end);
      for (const [ref, ph] of Object.entries(placeholders)) expr = expr.split(ref).join(JSON.stringify(ph));
      // a local value in a configuration of its own: the console evaluates it without init or provider
      writeFileSync(path.join(home, 'main.tf'), `locals {\n  v = ${expr}\n}\n`);
      const r = spawnSync('terraform', ['console', '-no-color'], { input: 'local.v\n', cwd: home, env: { ...process.env, HOME: home, TF_CLI_CONFIG_FILE: '/dev/null' }, encoding: 'utf8' });
      expect([r.status, r.stderr]).toEqual([0, '']);
      const evaluated = JSON.parse(JSON.parse(r.stdout.trim()) as string);
      expect(objectAfter(text, /jsonencode\(/, 'terraform', placeholders, start)).toEqual(evaluated);
      compared++;
    }
    // both extensions' settings and protected settings, and the health extension's settings
    expect(compared).toBe(5);
  });

  test('PowerShell (Set-DockerExtension.ps1): Set-AzVMExtension with hashtables, secrets from Key Vault, settings valid', () => {
    const text = ex('powershell/Set-DockerExtension.ps1');
    expect(text).toMatch(/Set-AzVMExtension [^\n]*`\n\s+-Name 'DockerExtension' -Publisher 'Microsoft\.Azure\.Extensions' -ExtensionType 'DockerExtension' `\n\s+-TypeHandlerVersion '2\.0' -Settings \$publicSettings -ProtectedSettings \$protectedSettings/);
    for (const v of ['caPem', 'serverCertPem', 'serverKeyPem']) expect(text).toMatch(new RegExp(`\\$${v}\\s+= Get-AzKeyVaultSecret `));
    const p = pems();
    const refs = { $caPem: p.ca, $serverCertPem: p.cert, $serverKeyPem: p.key };
    expectValid(objectAfter(text, /\$publicSettings\s*=\s*/, 'powershell', refs), objectAfter(text, /\$protectedSettings\s*=\s*/, 'powershell', refs));
  });

  test('az CLI scripts: valid shell; each `extension set` names the extension and takes both settings from files', () => {
    for (const f of readdirSync(path.join(EXAMPLES, 'az-cli')).filter((n) => n.endsWith('.sh'))) {
      const text = ex(`az-cli/${f}`);
      execFileSync('sh', ['-n', path.join(EXAMPLES, 'az-cli', f)]);
      const commands = text.replace(/\\\n\s*/g, ' ').split('\n').filter((l) => /^az (vm|vmss) extension set /.test(l));
      for (const c of commands) {
        expect(c).toContain('--publisher Microsoft.Azure.Extensions --name DockerExtension --version 2.0');
        const files = [...c.matchAll(/--(settings|protected-settings) (\S+)/g)].map((m) => [m[1], m[2]!]);
        expect(files.map(([k]) => k)).toEqual(['settings', 'protected-settings']);
        // a file path, never JSON text (a key inline would be in the process list and the shell history)
        for (const [, v] of files) expect(v).toMatch(/^\.\/[\w.-]+\.json$/);
      }
      // the three that write protected settings files deploy nothing
      if (!['protected-settings.sh', 'add-registry-login.sh', 'add-environment.sh'].includes(f)) expect(commands.length).toBeGreaterThan(0);
    }
  });

  test('the subset reader refuses what it does not understand, naming the line, instead of reading half', () => {
    const tf = 'x = jsonencode({\n  a = 1\n  b = var.unknown\n})\n';
    expect(() => objectAfter(tf, /jsonencode\(/, 'terraform', {})).toThrow('"var.unknown" is neither a literal nor one of the references the test knows () at line 3 ("b = var.unknown")');
    expect(() => objectAfter("s: {\n  a: 'x${y}'\n}", /s:\s*/, 'bicep', {})).toThrow('interpolation');
    expect(() => objectAfter('$s = @{ a = 1 b = 2 }', /\$s = /, 'powershell', {})).toThrow('expected a new line, a separator or }');
    expect(() => objectAfter("s: {\n  a: 1\n  a: 2\n}", /s:\s*/, 'bicep', {})).toThrow('"a" given twice');
    expect(objectAfter("$s = @{\n  a = @('x', 'it''s'); b = $true\n  c = @{ d = -1.5 }\n}", /\$s = /, 'powershell', {})).toEqual({ a: ['x', "it's"], b: true, c: { d: -1.5 } });
  });

  test('no example holds a private key or a certificate literal', () => {
    const all = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? all(path.join(dir, d.name)) : [path.join(dir, d.name)]));
    for (const f of all(EXAMPLES)) expect([f, readFileSync(f, 'utf8')]).toEqual([f, expect.not.stringMatching(/-----BEGIN|LS0tLS1CRUdJ/)]);
  });
});

describe('the docs show the example files as they are', () => {
  test('every file in docs/examples is shown in a doc, and every shown block is the file byte for byte (`node scripts/doc-examples.mjs` rewrites them)', () => {
    const blocks = docExampleBlocks(ROOT);
    const stale = blocks.filter((b) => b.shown !== b.actual).map((b) => `${b.doc}: ${b.example}`);
    expect(stale).toEqual([]);
    const shown = new Set(blocks.map((b) => b.example));
    const all = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? all(path.join(dir, d.name)) : [path.relative(path.join(ROOT, 'docs'), path.join(dir, d.name))]));
    expect(all(EXAMPLES).filter((f) => !shown.has(f))).toEqual([]);
  });

  test('docs/settings.md is what scripts/gen-settings-doc.mjs makes of the published schema (`npm run schema` writes both)', () => {
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'manifest/settings.schema.json'), 'utf8'));
    expect(readFileSync(path.join(ROOT, 'docs/settings.md'), 'utf8')).toBe(settingsDoc(schema));
  });

  test('every relative link in docs/ and the README reaches a file, and its #anchor a heading there', () => {
    const slug = (h: string) => h.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-');
    const headings = (file: string) => new Set([...readFileSync(file, 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
    const pages = [...readdirSync(path.join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => path.join(ROOT, 'docs', f)), path.join(ROOT, 'README.md')];
    const broken: string[] = [];
    for (const page of pages) {
      // links only: not what code blocks and code spans show
      const prose = readFileSync(page, 'utf8').replace(/^(`{3,})[\s\S]*?^\1$/gm, '').replace(/`[^`\n]*`/g, '');
      for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1]!;
        if (/^[a-z]+:/.test(link)) continue;
        const [file, anchor] = link.split('#');
        const target = file ? path.resolve(path.dirname(page), file) : page;
        let ok = existsSync(target);
        if (ok && anchor) ok = headings(target).has(anchor);
        if (!ok) broken.push(`${path.relative(ROOT, page)}: ${link}`);
      }
    }
    expect(broken).toEqual([]);
  });
});
