#!/bin/sh
# The Docker extension with a compose project on one VM: TLS on port 2376 with your own
# certificates, the project "shop" from public-settings-compose.json, its database password
# from Key Vault as a protected environment variable, and the login that pulls its private image.
# Run from this folder after ../certificates/make-certs.sh (see docs/certificates.md).
set -eu
RG=mygroup
VM=myvm
CERTS=./docker-tls

# 1. The protected settings file (0600): the certificates, then the registry login and the
#    project's secret, each from Key Vault on stdin, never on a command line.
./protected-settings.sh cert "$CERTS" ./protected.json
az keyvault secret show --vault-name myvault --name acr-pull-password --query value -o tsv |
  ./add-registry-login.sh ./protected.json myregistry.azurecr.io puller
az keyvault secret show --vault-name myvault --name shop-db-password --query value -o tsv |
  ./add-environment.sh ./protected.json DB_PASSWORD

# 2. Install or update the extension; compose runs once dockerd serves and the login is stored.
az vm extension set \
  --resource-group "$RG" --vm-name "$VM" \
  --publisher Microsoft.Azure.Extensions --name DockerExtension --version 2.0 \
  --settings ./public-settings-compose.json \
  --protected-settings ./protected.json
rm -f ./protected.json

# 3. The compose substatus: the project, its services, which compose ran it and what it did.
az vm get-instance-view --resource-group "$RG" --name "$VM" \
  --query "instanceView.extensions[?name=='DockerExtension'].substatuses[?contains(code, '/compose/')]" -o json
