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
# Anonymous viewing is the user's choice, off unless asked for: a Viewer sees every panel (asset
# names, sensor values, alerts) and can send any query to the Prometheus data source, so anyone who
# reaches port 3000 would read everything the device measures.
case "${VIGIL_GRAFANA_ANONYMOUS:-false}" in
  true)
    export GF_AUTH_ANONYMOUS_ENABLED=true
    echo "vigil: VIGIL_GRAFANA_ANONYMOUS=true: anyone who reaches port 3000 can view the dashboards and query Prometheus, without signing in"
    ;;
  false) export GF_AUTH_ANONYMOUS_ENABLED=false ;;
  *)
    echo "vigil: VIGIL_GRAFANA_ANONYMOUS must be true or false" >&2
    exit 1
    ;;
esac
exec "${VIGIL_GRAFANA_RUN:-/run.sh}" "$@"
