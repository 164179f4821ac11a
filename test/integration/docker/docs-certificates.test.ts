// (integration) The admin documentation's certificate path end to end, against the REAL dockerd
// sandbox: the certificates docs/examples/certificates/make-certs.sh makes, put into protected
// settings by docs/examples/az-cli/protected-settings.sh, with the public settings of
// docs/examples/az-cli/public-settings.json (on a free port), applied by the handler's engine; then
// the docs' workstation recipe (connect.sh: the docker CLI with --tlsverify, and a docker context)
// connects over mutual TLS, and a client without a certificate is refused as the docs say; then the
// same with certs.issuer (make-issuer.sh), where the client verifies the server with the issuer.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSettings } from '../../../handler/agent/settings.js';
import { reconcileEngine } from '../../../handler/docker/engine.js';
import { silentLogger } from '../../../handler/log/logger.js';
import { createSandbox, dockerUnavailable, freePort, type Sandbox } from '../../support/docker-daemon.js';

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs/examples');
const DOCKER_CLI = ['/usr/bin/docker', '/usr/local/bin/docker'].find((p) => existsSync(p));
const skip = dockerUnavailable() ?? (DOCKER_CLI ? undefined : 'no docker CLI');
const d = skip ? describe.skip : describe;
if (skip) console.warn(`(integration) docs certificate tests skipped: ${skip}`);

d('(integration) the docs\' certificates serve mutual TLS with a real dockerd', () => {
  let sb: Sandbox;
  let port: number;
  let tls: string;
  /** The CLI's own config (contexts) in the sandbox, never the machine's ~/.docker. */
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    sb = createSandbox();
    tls = path.join(sb.dir, 'docker-tls');
    env = { ...process.env, DOCKER_CONFIG: path.join(sb.dir, 'docker-cli'), PATH: `${path.dirname(DOCKER_CLI!)}:${process.env.PATH}` };
    delete env.DOCKER_HOST;
    delete env.DOCKER_CONTEXT;
    execFileSync('sh', [path.join(EXAMPLES, 'certificates/make-certs.sh'), tls, 'myvm.example.test'], { stdio: 'pipe' });
    execFileSync('sh', [path.join(EXAMPLES, 'az-cli/protected-settings.sh'), 'cert', tls, path.join(sb.dir, 'protected.json')], { stdio: 'pipe' });
    port = await freePort();
    const pub = JSON.parse(readFileSync(path.join(EXAMPLES, 'az-cli/public-settings.json'), 'utf8')) as { docker: Record<string, unknown> };
    pub.docker.port = port;
    const prot = JSON.parse(readFileSync(path.join(sb.dir, 'protected.json'), 'utf8'));
    const out = await reconcileEngine(parseSettings(pub, prot), sb.ports(), { log: silentLogger(), stateDir: sb.stateDir, layout: sb.layout });
    // The sandbox is not a VM the agent provisioned (no ovf-env.xml): that warning only.
    expect(out.warnings).toEqual([expect.stringMatching(/^the VM's admin user is not added to the docker group: the agent's provisioning file .* does not exist/)]);
  });

  afterAll(async () => {
    await sb?.cleanup();
  });

  test('connect.sh: `docker --tlsverify … version` and a docker context reach dockerd by the name in the certificate', () => {
    const r = spawnSync('sh', [path.join(EXAMPLES, 'certificates/connect.sh'), tls, 'localhost', String(port), 'docs-test'], { env, encoding: 'utf8', timeout: 60_000 });
    expect([r.status, r.stderr]).toEqual([0, expect.any(String)]);
    expect(r.stdout).toMatch(/Server:[\s\S]*Engine:[\s\S]*Version:/);
    expect(r.stdout).toMatch(/connected to \S+: Docker \d+\.\d+/);
    // the context stays usable, as the docs say (`docker --context azure-vm ps`)
    const ps = spawnSync(DOCKER_CLI!, ['--context', 'docs-test', 'ps'], { env, encoding: 'utf8', timeout: 30_000 });
    expect([ps.status, ps.stderr]).toEqual([0, '']);
  });

  test('by IP address (127.0.0.1 is in the recipe\'s subjectAltName) the same', () => {
    const r = spawnSync(DOCKER_CLI!, ['--tlsverify', '--tlscacert', `${tls}/ca.pem`, '--tlscert', `${tls}/client-cert.pem`, '--tlskey', `${tls}/client-key.pem`, '-H', `tcp://127.0.0.1:${port}`, 'version', '--format', '{{.Server.Version}}'], { env, encoding: 'utf8', timeout: 30_000 });
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+/);
  });

  test('a client without a certificate is refused in the handshake, with the message the docs quote', () => {
    const r = spawnSync(DOCKER_CLI!, ['--tlsverify', '--tlscacert', `${tls}/ca.pem`, '-H', `tcp://localhost:${port}`, 'version', '--format', '{{.Server.Version}}'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/certificate required|bad certificate/);
  });

  test('certs.issuer from make-issuer.sh: the VM issues its own certificate; connect.sh with SERVER_CA=issuer.pem connects, ca.pem alone no longer verifies the server', async () => {
    execFileSync('sh', [path.join(EXAMPLES, 'certificates/make-issuer.sh'), tls], { stdio: 'pipe' });
    execFileSync('sh', [path.join(EXAMPLES, 'az-cli/protected-settings.sh'), 'issuer', tls, path.join(sb.dir, 'protected-issuer.json')], { stdio: 'pipe' });
    const pub = JSON.parse(readFileSync(path.join(EXAMPLES, 'az-cli/public-settings-issuer.json'), 'utf8')) as { docker: Record<string, unknown> };
    pub.docker.port = port;
    const prot = JSON.parse(readFileSync(path.join(sb.dir, 'protected-issuer.json'), 'utf8'));
    const out = await reconcileEngine(parseSettings(pub, prot), sb.ports(), { log: silentLogger(), stateDir: sb.stateDir, layout: sb.layout });
    expect(out.steps.find((s) => s.name === 'certificates')?.message).toMatch(/^issued a new server certificate and key on this VM/);
    // the same context name as before: connect.sh updates it to the new server CA
    const r = spawnSync('sh', [path.join(EXAMPLES, 'certificates/connect.sh'), tls, 'localhost', String(port), 'docs-test'], { env: { ...env, SERVER_CA: `${tls}/issuer.pem` }, encoding: 'utf8', timeout: 60_000 });
    expect([r.status, r.stderr]).toEqual([0, expect.any(String)]);
    expect(r.stdout).toMatch(/connected to \S+: Docker \d+\.\d+/);
    const wrongCa = spawnSync(DOCKER_CLI!, ['--tlsverify', '--tlscacert', `${tls}/ca.pem`, '--tlscert', `${tls}/client-cert.pem`, '--tlskey', `${tls}/client-key.pem`, '-H', `tcp://localhost:${port}`, 'version', '--format', '{{.Server.Version}}'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(wrongCa.status).not.toBe(0);
    expect(wrongCa.stderr).toMatch(/certificate signed by unknown authority/);
  });
});
