#!/bin/sh
# Connects the docker CLI on your workstation to dockerd on the VM over mutual TLS, with the
# client certificate make-certs.sh made. The host name must be one of the server certificate's
# subjectAltNames (make-certs.sh's <VM DNS name> or IP address).
#
# usage: connect.sh <certificate folder> <VM DNS name or IP> [port, default 2376] [context name, default azure-vm]
#
# The client checks the server's certificate against the CA that signed it: ca.pem for your own
# server certificate (certs.cert), the issuing CA for certificates issued on the VM (certs.issuer):
#   SERVER_CA=./docker-tls/issuer.pem sh connect.sh ./docker-tls myvm.westeurope.cloudapp.azure.com
set -eu
dir=${1:?usage: connect.sh <certificate folder> <VM DNS name or IP> [port] [context name]}
host=${2:?usage: connect.sh <certificate folder> <VM DNS name or IP> [port] [context name]}
port=${3:-2376}
context=${4:-azure-vm}
dir=$(cd "$dir" && pwd)
server_ca=$(cd "$(dirname "${SERVER_CA:-$dir/ca.pem}")" && pwd)/$(basename "${SERVER_CA:-$dir/ca.pem}")

# One command, every flag given:
docker --tlsverify --tlscacert "$server_ca" --tlscert "$dir/client-cert.pem" --tlskey "$dir/client-key.pem" \
  -H "tcp://$host:$port" version

# Or once, as a context: `docker --context azure-vm ps`, or `docker context use azure-vm`.
# Run again (new certificates), the context is updated.
verb=create
docker context inspect "$context" >/dev/null 2>&1 && verb=update
docker context "$verb" "$context" \
  --description "dockerd on $host over mutual TLS" \
  --docker "host=tcp://$host:$port,ca=$server_ca,cert=$dir/client-cert.pem,key=$dir/client-key.pem"
docker --context "$context" info --format 'connected to {{.Name}}: Docker {{.ServerVersion}}'
