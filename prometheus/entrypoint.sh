#!/bin/sh
# Starts Prometheus with retention sized for an SD card, adding remote_write when
# VIGIL_REMOTE_WRITE_URL is set (a central store for a fleet).
#
# Retention: ~2,500 series scraped every 5 s is ~500 samples/s, ~1.5 bytes each after
# compression: ~65 MB a day. Seven days (~450 MB) is enough to look back over a week's shifts,
# and the 512 MB size cap bounds the disk whatever the series count does.
set -eu
# The paths are the image's; the variables exist so a test can run this script outside it.
base_config="${VIGIL_PROMETHEUS_CONFIG:-/etc/prometheus/prometheus.yml}"
data="${VIGIL_PROMETHEUS_DATA:-/prometheus}"

# This device's id, by the services' rule (shared/src/device-identity.ts): a name made of
# A-Z a-z 0-9 _ . - (anything else becomes '-'), at most 64 characters.
device_id() {
  uuid=$(printf '%s' "${BALENA_DEVICE_UUID:-}" | cut -c1-7)
  for candidate in "${VIGIL_DEVICE_ID:-}" "${BALENA_DEVICE_NAME_AT_INIT:-}" "$uuid"; do
    id=$(printf '%s' "$candidate" | tr -c 'A-Za-z0-9_.-' '-' | cut -c1-64)
    if [ -n "$id" ]; then
      printf '%s' "$id"
      return
    fi
  done
  printf 'vigil-pi'
}
device=$(device_id)
# How often every service is scraped: 15 s by default (four samples in a panel's one-minute rate
# window). Prometheus writes most of what the stack writes to the SD card (npm run bench:disk), and
# what it writes grows with the samples it takes; 5 s shows a change sooner and writes three times
# as much.
interval="${VIGIL_PROMETHEUS_SCRAPE_INTERVAL:-15s}"
case "$interval" in
  [5-9]s|[1-9][0-9]s|[1-9][0-9][0-9]s|[1-9]m|[1-9][0-9]m) ;;
  *) echo "vigil: VIGIL_PROMETHEUS_SCRAPE_INTERVAL must be 5s to 999s or 1m to 99m, such as 15s" >&2; exit 1 ;;
esac
config="$data/prometheus-vigil.yml"
sed -e "s/^\( *device: \)vigil-pi\$/\1$device/" \
    -e "s/^\(  scrape_interval: \)15s\$/\1$interval/" \
    -e "s/^\(  evaluation_interval: \)15s\$/\1$interval/" "$base_config" > "$config"
echo "vigil: prometheus labels every series device=$device"
if [ -n "${VIGIL_REMOTE_WRITE_URL:-}" ]; then
  {
    echo "remote_write:"
    echo "  - url: ${VIGIL_REMOTE_WRITE_URL}"
    if [ -n "${VIGIL_REMOTE_WRITE_USERNAME:-}" ]; then
      echo "    basic_auth:"
      echo "      username: ${VIGIL_REMOTE_WRITE_USERNAME}"
      echo "      password: ${VIGIL_REMOTE_WRITE_PASSWORD:-}"
    fi
  } >> "$config"
fi
exec "${VIGIL_PROMETHEUS_BIN:-/bin/prometheus}" \
  --config.file="$config" \
  --storage.tsdb.path="$data" \
  --storage.tsdb.retention.time="${VIGIL_PROMETHEUS_RETENTION_TIME:-7d}" \
  --storage.tsdb.retention.size="${VIGIL_PROMETHEUS_RETENTION_SIZE:-512MB}" \
  --storage.tsdb.wal-compression \
  --web.listen-address="${VIGIL_PROMETHEUS_LISTEN:-0.0.0.0:9090}" \
  "$@"
