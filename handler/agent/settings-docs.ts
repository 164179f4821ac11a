// What each setting means, for the published JSON Schema (manifest/settings.schema.json, which
// editors show as hover text and the settings reference is generated from). Only the schema
// generator imports this file: the handler's bundle does not carry the text.
//
// Adding a setting: add its key to the zod schema in settings.ts and one entry here, by its dotted
// path. The generator (and so test/unit/agent/settings-schema.test.ts) fails while a key has no
// entry or an entry no key; test/unit/agent/schema-agreement.test.ts checks each example.

export interface SettingDoc {
  description: string;
  /** One value as an admin would write it; it must pass the handler's validation (the schema test checks). */
  example: unknown;
}

const PEM_NOTE = 'PEM text ("-----BEGIN …"), or base64 of the PEM file (the old extension\'s form).';
const CERT_PEM = '-----BEGIN CERTIFICATE-----\nMIIB…\n-----END CERTIFICATE-----\n';
const KEY_PEM = '-----BEGIN PRIVATE KEY-----\nMIIE…\n-----END PRIVATE KEY-----\n';

export const PUBLIC_SETTINGS_DOCS: Record<string, SettingDoc> = {
  docker: { description: 'How dockerd is installed, listens and is configured.', example: { port: 2376, options: ['--log-opt max-size=10m'] } },
  'docker.port': {
    description:
      'TCP port of dockerd\'s TLS listener (1 to 65535; 2376 when certificates are given and no port is). Needs the protected setting "certs", ' +
      'unless "docker.allowInsecureTcp" is true. The local socket is always kept.',
    example: 2376,
  },
  'docker.tls': { description: 'With the protected setting "certs.issuer": the server certificate each VM issues itself.', example: { days: 90, renewBefore: '1/3' } },
  'docker.tls.subjectAltNames': {
    description: 'Extra DNS names or IP addresses for the issued certificate, besides the VM\'s host name, FQDN and addresses (a load balancer\'s name, a public IP).',
    example: ['docker.example.com', '20.1.2.3'],
  },
  'docker.tls.days': { description: 'Validity of each issued certificate in days, 1 to 825.', example: 90 },
  'docker.tls.renewBefore': {
    description: 'The monitor renews the issued certificate once this much of its validity is left: "1/2" … "1/9" of it, or a number of days (less than "days").',
    example: '1/3',
  },
  'docker.tls.testValiditySeconds': {
    description: 'TEST ONLY: a validity of seconds (at least 30, less than "days") instead of "days", so that a test sees a renewal within a minute. Never on a real VM.',
    example: 60,
  },
  'docker.options': {
    description:
      'dockerd flags, each mapped to its daemon.json key ("--log-driver=journald", "--data-root /mnt/docker"). ' +
      'Flags the extension manages (-H, --tls*, --config-file) are refused; an unknown flag is refused with the closest one suggested.',
    example: ['--log-driver=journald', '--registry-mirror=https://mirror.example.com'],
  },
  'docker.engine': { description: 'Which Docker engine package is installed when none is.', example: { source: 'docker-ce', version: '5:27.5.1-1~ubuntu.24.04~noble' } },
  'docker.engine.source': {
    description: 'distro: the distribution\'s own package (docker.io, moby-engine); docker-ce: Docker\'s repository; moby: Microsoft\'s.',
    example: 'distro',
  },
  'docker.engine.version': {
    description: 'Package version pin, as the package manager spells it. Needs "source" "docker-ce" or "moby": a distribution has one version per release.',
    example: '5:27.5.1-1~ubuntu.24.04~noble',
  },
  'docker.engine.removeOnUninstall': {
    description: 'Uninstalling the extension also removes the engine it installed, with its images, containers and volumes. An engine that was on the image is always kept.',
    example: false,
  },
  'docker.allowInsecureTcp': {
    description: 'Explicit opt-in to a TCP listener WITHOUT TLS on "docker.port": anyone who reaches the port is root on the VM. Not with the protected setting "certs".',
    example: false,
  },
  'docker.liveRestore': {
    description:
      'dockerd\'s live-restore, so that the restarts the extension makes for a configuration or certificate change stop no container. ' +
      'An explicit value in docker.options or daemon.json wins; never set on a swarm node.',
    example: true,
  },
  compose: {
    description:
      'A compose project (the compose document as JSON), run by the extension with the machine\'s compose (or the distribution\'s package) once dockerd serves, ' +
      'after the registry login; written to /etc/docker/compose/docker-compose.yml. File format v1 (services at the top level, as the old extension took it) is converted. ' +
      '"up -d" runs only when the document or its environment changed or a container is not running; removing the setting takes the project down (volumes kept).',
    example: { services: { web: { image: 'nginx:1.27', ports: ['80:80'], restart: 'always' } } },
  },
  'compose-environment': {
    description:
      'Environment of the compose process (for ${VAR} in the document). Names are letters, digits and _, not starting with a digit. ' +
      'COMPOSE_PROJECT_NAME (default "compose") and COMPOSE_HTTP_TIMEOUT (default "600") override the defaults; COMPOSE_FILE, DOCKER_HOST and DOCKER_CONFIG are the extension\'s. Secrets go in the protected "environment".',
    example: { TAG: '1.27', COMPOSE_PROJECT_NAME: 'web' },
  },
  'azure-environment': { description: "The Azure cloud the VM runs in; picks package mirrors for sovereign clouds: AzureChinaCloud takes Docker's repository from https://mirror.azure.cn/docker-ce. AzureGermanCloud (closed in 2021) is accepted with a warning and means AzureCloud.", example: 'AzureCloud' },
};

export const PROTECTED_SETTINGS_DOCS: Record<string, SettingDoc> = {
  certs: {
    description:
      'TLS for the TCP listener: "ca" and either "cert" + "key" (one certificate for the VM) or "issuer" (each VM issues its own). ' +
      'Never in the public settings: they are visible in the portal and ARM.',
    example: { ca: CERT_PEM, cert: CERT_PEM, key: KEY_PEM },
  },
  'certs.ca': { description: `The CA certificate dockerd verifies client certificates with. ${PEM_NOTE}`, example: CERT_PEM },
  'certs.cert': {
    description: `The server certificate (with any intermediates after it), issued by "ca" or a CA it chains to, for serverAuth, with the VM's names in subjectAltName. ${PEM_NOTE}`,
    example: CERT_PEM,
  },
  'certs.key': { description: `The server certificate's private key, unencrypted. ${PEM_NOTE}`, example: KEY_PEM },
  'certs.issuer': {
    description:
      'Instead of "cert" + "key": a CA that signs a server certificate made on each VM with its own names, renewed by the monitor. ' +
      'Best a server-only issuing CA, not the one in "ca".',
    example: { cert: CERT_PEM, key: KEY_PEM },
  },
  'certs.issuer.cert': { description: `The issuing CA's certificate (basicConstraints CA:TRUE, keyCertSign). ${PEM_NOTE}`, example: CERT_PEM },
  'certs.issuer.key': { description: `The issuing CA's private key (RSA or ECDSA), unencrypted. ${PEM_NOTE}`, example: KEY_PEM },
  login: { description: "A registry that root and the VM's admin user are logged in to, for pulling private images: dockerd checks the credentials with the registry (no docker login process runs), then they are stored in each one's ~/.docker/config.json. Left out: the extension logs out of the registry it had logged in to.", example: { server: 'myregistry.azurecr.io', username: 'puller', password: '…' } },
  'login.server': {
    description: 'Registry host with an optional port and an optional leading https:// (no path); Docker Hub when left out.',
    example: 'myregistry.azurecr.io',
  },
  'login.username': { description: 'Registry user name.', example: 'puller' },
  'login.password': { description: 'Registry password or token.', example: '…' },
  'login.email': { description: 'Accepted for compatibility and ignored: docker login --email was removed in Docker 17.06.', example: 'admin@example.com' },
  environment: { description: 'Secret environment variables for the compose process (they reach compose through its process environment only, never a file, argv or log); names as in "compose-environment", none of the COMPOSE_* or DOCKER_* names it reserves.', example: { DB_PASSWORD: '…' } },
};
