#!/bin/sh
# One-shot: make Dendrite's key and config on first start (server name
# "localhost", SQLite under /var/dendrite, open registration with a shared
# secret for the bot account).
set -eu
cd /etc/dendrite
[ -f matrix_key.pem ] || /usr/bin/generate-keys --private-key matrix_key.pem
if [ ! -f dendrite.yaml ]; then
  /usr/bin/generate-config -ci -dir /var/dendrite -server localhost > dendrite.yaml
  sed -i 's/registration_shared_secret: .*/registration_shared_secret: "fullstack"/' dendrite.yaml
fi
