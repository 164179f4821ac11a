#!/bin/sh
# Writes the Docker extension's protected settings to a file (mode 0600) from the PEM files that
# make-certs.sh / make-issuer.sh made, for `az vm extension set --protected-settings <file>`.
# jq reads each PEM file itself (--rawfile): no key is ever on a command line, where every user
# of the machine could read it in the process list and your shell would keep it in its history.
#
# usage: protected-settings.sh cert   <certificate folder> <output file>   (certs.ca, certs.cert, certs.key)
#        protected-settings.sh issuer <certificate folder> <output file>   (certs.ca, certs.issuer)
set -eu
mode=${1:?usage: protected-settings.sh cert|issuer <certificate folder> <output file>}
dir=${2:?usage: protected-settings.sh cert|issuer <certificate folder> <output file>}
out=${3:?usage: protected-settings.sh cert|issuer <certificate folder> <output file>}

umask 077
case "$mode" in
  cert)
    jq -n --rawfile ca "$dir/ca.pem" --rawfile cert "$dir/server-cert.pem" --rawfile key "$dir/server-key.pem" \
      '{certs: {ca: $ca, cert: $cert, key: $key}}' > "$out" ;;
  issuer)
    jq -n --rawfile ca "$dir/ca.pem" --rawfile icert "$dir/issuer.pem" --rawfile ikey "$dir/issuer-key.pem" \
      '{certs: {ca: $ca, issuer: {cert: $icert, key: $ikey}}}' > "$out" ;;
  *) echo "protected-settings.sh: the first argument is cert or issuer, not \"$mode\"" >&2; exit 2 ;;
esac
echo "wrote $out (mode 0600); delete it once the extension is set"
