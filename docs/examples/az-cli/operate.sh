#!/bin/sh
# Day-two commands for the Docker extension on one VM (docs/troubleshooting.md explains each).
set -eu
RG=mygroup
VM=myvm
CERTS=./docker-tls

# Run enable again (a new sequence number, so the agent runs enable even though nothing changed):
# after fixing the VM by hand, or to have a failed configuration retried. Pass the same settings
# again: the command sets the whole extension, and protected settings cannot be read back.
./protected-settings.sh cert "$CERTS" ./protected.json
az vm extension set --resource-group "$RG" --vm-name "$VM" \
  --publisher Microsoft.Azure.Extensions --name DockerExtension --version 2.0 \
  --settings ./public-settings.json --protected-settings ./protected.json --force-update
rm -f ./protected.json

# Status, substatus and messages only.
az vm get-instance-view --resource-group "$RG" --name "$VM" \
  --query "instanceView.extensions[?name=='DockerExtension'].{status:statuses[0], substatuses:substatuses}" -o json

# Uninstall: dockerd keeps serving the local socket, containers and images stay (unless
# docker.engine.removeOnUninstall was set).
az vm extension delete --resource-group "$RG" --vm-name "$VM" --name DockerExtension
