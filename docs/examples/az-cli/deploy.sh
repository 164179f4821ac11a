#!/bin/sh
# The Docker extension on one VM with the az CLI, TLS on port 2376 with your own certificates.
# Run from this folder after ../certificates/make-certs.sh (see docs/certificates.md).
set -eu
RG=mygroup
VM=myvm
CERTS=./docker-tls        # the folder make-certs.sh wrote

# 1. The protected settings go to a file (0600) built by jq from the PEM files: never on the
#    command line. --protected-settings takes a file path as well as JSON text.
./protected-settings.sh cert "$CERTS" ./protected.json

# 2. Install or update the extension. Publisher Microsoft.Azure.Extensions, type DockerExtension,
#    version 2.0 (autoUpgradeMinorVersion is on by default: the newest 2.x is used).
az vm extension set \
  --resource-group "$RG" --vm-name "$VM" \
  --publisher Microsoft.Azure.Extensions --name DockerExtension --version 2.0 \
  --settings ./public-settings.json \
  --protected-settings ./protected.json
rm -f ./protected.json

# 3. Open TCP 2376 in the VM's network security group, to your workstation's address only
#    (the NSG of the VM's network interface; when yours is on the subnet, give its name instead).
NSG=$(az network nic show --ids "$(az vm show -g "$RG" -n "$VM" --query 'networkProfile.networkInterfaces[0].id' -o tsv)" \
  --query 'networkSecurityGroup.id' -o tsv)
az network nsg rule create --resource-group "$RG" --nsg-name "${NSG##*/}" --name docker-tls \
  --priority 1010 --direction Inbound --access Allow --protocol Tcp \
  --source-address-prefixes "$(curl -s https://api.ipify.org)/32" --destination-port-ranges 2376

# 4. What the extension reports (see docs/troubleshooting.md for each status and substatus).
az vm get-instance-view --resource-group "$RG" --name "$VM" \
  --query "instanceView.extensions[?name=='DockerExtension']" -o json
