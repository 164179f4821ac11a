using 'docker-extension.bicep'

// The PEM files as Key Vault secrets, for example:
//   az keyvault secret set --vault-name myvault --name docker-server-key --file docker-tls/server-key.pem
// The deployment reads them; they are never in this file, the template or the deployment history.
param vmName = 'myvm'
param caCertificate = az.getSecret('00000000-0000-0000-0000-000000000000', 'mygroup', 'myvault', 'docker-ca')
param serverCertificate = az.getSecret('00000000-0000-0000-0000-000000000000', 'mygroup', 'myvault', 'docker-server-cert')
param serverKey = az.getSecret('00000000-0000-0000-0000-000000000000', 'mygroup', 'myvault', 'docker-server-key')
