#!/bin/sh
# No admin/admin: the admin password comes from GF_SECURITY_ADMIN_PASSWORD. Without it, the first
# start (no database yet) generates one and prints it once; Grafana keeps it in its database.
set -eu
# The paths are the image's; the variables exist so a test can run this script outside it.
data="${GF_PATHS_DATA:-/var/lib/grafana}"
if [ -z "${GF_SECURITY_ADMIN_PASSWORD:-}" ]; then
  if [ ! -f "$data/grafana.db" ]; then
    GF_SECURITY_ADMIN_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
    export GF_SECURITY_ADMIN_PASSWORD
    echo "vigil: no GF_SECURITY_ADMIN_PASSWORD set; generated Grafana admin password (shown once): ${GF_SECURITY_ADMIN_PASSWORD}"
  else
    # Keep the password already in the database; make sure no default is applied.
    export GF_SECURITY_ADMIN_PASSWORD="$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
  fi
fi
exec "${VIGIL_GRAFANA_RUN:-/run.sh}" "$@"
