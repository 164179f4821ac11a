#!/bin/sh
# Adds a secret variable for the compose project (protected setting "environment") to a protected
# settings file that protected-settings.sh wrote. The value comes on stdin (from Key Vault, a
# password manager or a file), never on a command line, where every user of the machine could read
# it in the process list and your shell would keep it in its history.
#
# usage: add-environment.sh <protected settings file> <variable name>   (value on stdin)
#   e.g. az keyvault secret show --vault-name myvault --name shop-db-password --query value -o tsv |
#          ./add-environment.sh ./protected.json DB_PASSWORD
#
# The compose document uses it as ${DB_PASSWORD}; the extension gives it to compose in the compose
# process's environment only (never in the compose file, a log or the status).
set -eu
file=${1:?usage: add-environment.sh <protected settings file> <variable name> < value}
name=${2:?usage: add-environment.sh <protected settings file> <variable name> < value}
case "$name" in
  [0-9]* | *[!A-Za-z0-9_]*)
    echo "add-environment.sh: \"$name\" is not a variable name (letters, digits and _, not starting with a digit)" >&2
    exit 2 ;;
esac

umask 077
tmp=$(mktemp "$file.XXXXXX")
# jq reads the value as its input (-R -s: raw, whole) and the settings file with --slurpfile; the
# file's other settings (certs, login, other variables) are kept, and the line break az and echo
# add at the end is dropped.
if jq -R -s --slurpfile settings "$file" --arg name "$name" \
    'rtrimstr("\n") as $value | $settings[0] | .environment = ((.environment // {}) + {($name): $value})' > "$tmp"; then
  mv "$tmp" "$file"
else
  rm -f "$tmp"
  exit 1
fi
echo "added $name to the protected environment in $file (mode 0600); delete the file once the extension is set"
