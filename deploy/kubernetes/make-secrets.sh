#!/usr/bin/env bash
# Writes the cluster's secrets as Kubernetes manifests on stdout: one
# identity (certificate + key) per node, made once here so every node's
# fingerprint is known before it starts; the peer list with those
# fingerprints; the cluster's peer token; a token for tenant `bench`.
#
#   bash deploy/kubernetes/make-secrets.sh 3 > secrets.yaml   # replicas
#   kubectl apply -f secrets.yaml -f deploy/kubernetes/
#
# Keep secrets.yaml private; running it again makes new identities and
# tokens (the nodes' agents and data survive, their clients need the new
# fingerprints). CAXTON_RUN names the binary (default: caxton-run).
set -euo pipefail
replicas="${1:-3}"
run="${CAXTON_RUN:-caxton-run}"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
names=()
for i in $(seq 0 $((replicas - 1))); do names+=("caxton-$i"); done
"$run" identity "${names[@]}" --out "$dir" > "$dir/fingerprints"
token() { head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 32; }
peer_token=$(token)
bench_token=$(token)

echo "apiVersion: v1"
echo "kind: Secret"
echo "metadata:"
echo "  name: caxton-identities"
echo "type: Opaque"
echo "data:"
for name in "${names[@]}"; do
  echo "  $name.cert.der: $(base64 -w0 < "$dir/$name.cert.der")"
  echo "  $name.key.der: $(base64 -w0 < "$dir/$name.key.der")"
done
echo "---"
echo "apiVersion: v1"
echo "kind: Secret"
echo "metadata:"
echo "  name: caxton-secrets"
echo "type: Opaque"
echo "stringData:"
echo "  peer-token: \"$peer_token\""
echo "  bench-token: \"$bench_token\""
while read -r name fp; do
  echo "  fingerprint-$name: \"$fp\""
done < "$dir/fingerprints"
echo "  tokens.toml: |"
echo "    [tokens]"
echo "    bench = \"$bench_token\""
echo "  peers.toml: |"
echo "    [peers]"
while read -r name fp; do
  echo "    $name = \"$name.caxton:7700#$fp\""
done < "$dir/fingerprints"
