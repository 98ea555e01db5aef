#!/bin/bash
# gen-certs.sh DIR: a throwaway PKI for the controller-protocol tests.
#   ca.pem/ca.key            the test CA
#   controller.pem/.key      server cert, CN=controller, SAN DNS:localhost,
#                            IP:127.0.0.1 and IP:198.18.0.0/15 lab addresses
#                            given in $KM_CERT_IPS (space separated)
#   edge-a.pem/.key, edge-b.pem/.key   client certs (CN = edge id)
#   other-ca.pem, rogue.pem/.key        a second CA and an edge cert it signed
#                                       (must be refused)
# EC P-256 keys: fast to generate. Idempotent and safe to run in parallel:
# the set is made in a private directory and renamed into place whole.
set -euo pipefail
dir=${1:?usage: gen-certs.sh DIR}
[[ -f $dir/rogue.pem ]] && exit 0
mkdir -p "$(dirname "$dir")"
tmp=$(mktemp -d "$dir.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

ossl() { openssl "$@" 2>/dev/null; }
mkca() { # name cn
	ossl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.pem" -days 30 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign
}
mkcert() { # name cn ca san
	ossl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
	printf 'basicConstraints=CA:FALSE\nsubjectAltName=%s\n' "$4" >"$1.ext"
	ossl x509 -req -in "$1.csr" -CA "$3.pem" -CAkey "$3.key" \
		-CAcreateserial -out "$1.pem" -days 30 -extfile "$1.ext"
	rm -f "$1.csr" "$1.ext"
}
mkca ca "kilimanjaro test CA"
san="DNS:localhost,DNS:controller,IP:127.0.0.1"
for ip in ${KM_CERT_IPS-}; do san+=",IP:$ip"; done
mkcert controller controller ca "$san"
mkcert edge-a edge-a ca "DNS:edge-a"
mkcert edge-b edge-b ca "DNS:edge-b"
mkca other-ca "other CA"
mkcert rogue edge-a other-ca "DNS:edge-a"
chmod 600 ./*.key
cd /
# Another run may have won the race: its set is as good as ours.
mv -T "$tmp" "$dir" 2>/dev/null || [[ -f $dir/rogue.pem ]]
