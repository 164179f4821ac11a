#!/bin/sh
# Adds a registry login to a protected settings file that protected-settings.sh wrote, so that
# root and the VM's admin user can pull private images. The password comes on stdin (from Key
# Vault, a password manager or a file), never on a command line, where every user of the machine
# could read it in the process list and your shell would keep it in its history.
#
# usage: add-registry-login.sh <protected settings file> <registry server> <user name>   (password on stdin)
#   e.g. az keyvault secret show --vault-name myvault --name acr-pull-password --query value -o tsv |
#          ./add-registry-login.sh ./protected.json myregistry.azurecr.io puller
#
# The extension makes dockerd check the credentials with the registry, then stores them in
# /root/.docker/config.json and in the admin user's ~/.docker/config.json; no `docker login` runs.
set -eu
file=${1:?usage: add-registry-login.sh <protected settings file> <registry server> <user name> < password}
server=${2:?usage: add-registry-login.sh <protected settings file> <registry server> <user name> < password}
user=${3:?usage: add-registry-login.sh <protected settings file> <registry server> <user name> < password}

umask 077
tmp=$(mktemp "$file.XXXXXX")
# jq reads the password as its input (-R -s: raw, whole) and the settings file with --slurpfile; the
# file's other settings (certs) are kept, and the line break az and echo add at the end is dropped.
if jq -R -s --slurpfile settings "$file" --arg server "$server" --arg user "$user" \
    '$settings[0] + {login: {server: $server, username: $user, password: rtrimstr("\n")}}' > "$tmp"; then
  mv "$tmp" "$file"
else
  rm -f "$tmp"
  exit 1
fi
echo "added the login to $server to $file (mode 0600); delete the file once the extension is set"
