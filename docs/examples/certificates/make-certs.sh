#!/bin/sh
# Makes the three certificates the Docker extension's "certs" mode needs, and a client certificate
# for your workstation, with openssl (1.1.1 or 3.x):
#
#   ca.pem, ca-key.pem                 the CA: dockerd trusts clients it signed; you trust the server it signed
#   server-cert.pem, server-key.pem    dockerd's certificate, for the VM's DNS name and IP address
#   client-cert.pem, client-key.pem    your workstation's certificate (docker --tlsverify ...)
#
# usage: make-certs.sh <output folder> <VM DNS name> [<VM IP address>]
#   e.g. make-certs.sh ./docker-tls myvm.westeurope.cloudapp.azure.com 20.31.42.53
# Environment: DAYS (validity, default 365).
#
# Keep ca-key.pem offline: whoever holds it can mint client certificates, and every client
# certificate it signs is root on every VM that trusts this CA.
set -eu
out=${1:?usage: make-certs.sh <output folder> <VM DNS name> [<VM IP address>]}
dns=${2:?usage: make-certs.sh <output folder> <VM DNS name> [<VM IP address>]}
ip=${3:-}
days=${DAYS:-365}

umask 077   # every key is born 0600
mkdir -p "$out"
cd "$out"

# The CA. basicConstraints CA:TRUE and keyCertSign: dockerd and Go clients refuse a CA without them.
openssl req -x509 -newkey rsa:4096 -sha256 -days "$days" -nodes \
  -keyout ca-key.pem -out ca.pem -subj "/CN=Docker CA for $dns" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign"

# The server certificate. Go clients (the docker CLI) match the host name you dial against
# subjectAltName only, never against the CN: list every name and address you connect with.
san="DNS:$dns,DNS:localhost,IP:127.0.0.1"
[ -n "$ip" ] && san="$san,IP:$ip"
openssl req -new -newkey rsa:2048 -sha256 -nodes -keyout server-key.pem -out server.csr -subj "/CN=$dns"
printf '%s\n' "subjectAltName=$san" "extendedKeyUsage=serverAuth" "keyUsage=critical,digitalSignature,keyEncipherment" > server-ext.cnf
openssl x509 -req -in server.csr -sha256 -days "$days" -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
  -extfile server-ext.cnf -out server-cert.pem

# The client certificate: extendedKeyUsage clientAuth, or dockerd refuses it.
openssl req -new -newkey rsa:2048 -sha256 -nodes -keyout client-key.pem -out client.csr -subj "/CN=docker-client"
printf '%s\n' "extendedKeyUsage=clientAuth" "keyUsage=critical,digitalSignature" > client-ext.cnf
openssl x509 -req -in client.csr -sha256 -days "$days" -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
  -extfile client-ext.cnf -out client-cert.pem

rm -f server.csr client.csr server-ext.cnf client-ext.cnf
chmod 0644 ca.pem server-cert.pem client-cert.pem
echo "made in $out: ca.pem server-cert.pem server-key.pem client-cert.pem client-key.pem (server names: $san)"
