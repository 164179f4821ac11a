#!/bin/sh
# The Docker extension on a virtual machine scale set with certificates issued on each VM
# (certs.issuer): one setting for every instance, each with a certificate for its own names.
# Run from this folder after ../certificates/make-certs.sh and ../certificates/make-issuer.sh
# into the same folder.
set -eu
RG=mygroup
VMSS=myscaleset
CERTS=./docker-tls

./protected-settings.sh issuer "$CERTS" ./protected.json
az vmss extension set \
  --resource-group "$RG" --vmss-name "$VMSS" \
  --publisher Microsoft.Azure.Extensions --name DockerExtension --version 2.0 \
  --settings ./public-settings-issuer.json \
  --protected-settings ./protected.json
rm -f ./protected.json

# With upgradePolicy Manual the instances get the new model only when told to:
az vmss update-instances --resource-group "$RG" --name "$VMSS" --instance-ids '*'
# (with Rolling or Automatic, the platform rolls it out itself; see docs/deploying.md)
