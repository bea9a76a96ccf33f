#!/usr/bin/env bash
# Writes the secret files deploy/compose.yaml mounts (under deploy/secrets/, never committed)
# and a self-signed TLS pair for nginx. Existing files are kept: delete one to renew it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
umask 077
rand() { openssl rand -hex "${1:-24}"; }
put() { [ -s "$1" ] || { printf '%s\n' "$2" >"$1"; echo "wrote deploy/secrets/$1"; }; }

put postgres_password "$(rand)"
put database_url "postgres://postgres:$(cat postgres_password)@postgres:5432/lightdom"
put executor_token "$(rand)"
put ai_worker_token "$(rand)"
put anchor_token "$(rand)"
put prometheus_token "$(rand)"
put admin_token "$(rand)"
put n8n_token "$(rand)"
# Token registry of every service: token:actor:role, one entry a line.
put api_tokens "$(cat admin_token):admin:admin
$(cat executor_token):executor:service
$(cat ai_worker_token):ai-worker:service
$(cat anchor_token):anchor:service
$(cat n8n_token):n8n:operator
$(cat prometheus_token):prometheus:reader"
# Hardhat's well-known account 0 (a development chain only): use your own key on a real chain.
put chain_signer_key "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
# The first contract account 0 deploys on a fresh Hardhat node; write your own address here.
put audit_anchor_address "0x5FbDB2315678afecb367f032d93F642f64180aa3"
put n8n_db_password "$(rand)"
put n8n_encryption_key "$(rand 32)"
put n8n_webhook_token "$(rand)"
if [ ! -s tls.key ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj '/CN=localhost' \
    -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1' -keyout tls.key -out tls.crt 2>/dev/null
  echo "wrote deploy/secrets/tls.crt and tls.key (self-signed)"
fi
# The containers run as unprivileged users: the files must be readable by them.
for f in *; do [ "$f" = generate.sh ] || chmod 0444 "$f"; done
