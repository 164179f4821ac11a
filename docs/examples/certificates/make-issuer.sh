#!/bin/sh
# Makes an issuing CA for the Docker extension's "certs.issuer" mode: each VM then makes its own
# key and a server certificate for its own host name and addresses, signed by this CA, and the
# extension's monitor renews it. One protected setting serves a whole scale set.
#
#   issuer.pem, issuer-key.pem    the issuing CA (goes to certs.issuer.cert and certs.issuer.key)
#
# usage: make-issuer.sh <output folder>      (run make-certs.sh first for ca.pem, the client CA)
# Environment: DAYS (validity of the issuing CA, default 1825).
#
# Keep it apart from the client CA (ca.pem): every VM holds this key, so a VM that is broken
# into can mint server certificates, but not client certificates that open other VMs.
set -eu
out=${1:?usage: make-issuer.sh <output folder>}
days=${DAYS:-1825}

umask 077
mkdir -p "$out"
cd "$out"

# pathlen:0 and no clientAuth use: it can sign server certificates, not further CAs.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -sha256 -days "$days" -nodes \
  -keyout issuer-key.pem -out issuer.pem -subj "/CN=Docker server issuer" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"
chmod 0644 issuer.pem
echo "made in $out: issuer.pem issuer-key.pem"
