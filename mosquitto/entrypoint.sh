#!/bin/sh
# Writes the remote listener's password file from the environment, then runs the broker.
set -eu
passwd=/mosquitto/data/passwd
: > "$passwd"
if [ -n "${VIGIL_MQTT_REMOTE_USERNAME:-}" ] && [ -n "${VIGIL_MQTT_REMOTE_PASSWORD:-}" ]; then
  mosquitto_passwd -b "$passwd" "$VIGIL_MQTT_REMOTE_USERNAME" "$VIGIL_MQTT_REMOTE_PASSWORD"
  echo "vigil: remote MQTT user '$VIGIL_MQTT_REMOTE_USERNAME' can connect on port 1883"
else
  echo "vigil: VIGIL_MQTT_REMOTE_USERNAME/PASSWORD not set: remote MQTT clients are refused"
fi
chown mosquitto:mosquitto "$passwd" /mosquitto/data
chmod 0600 "$passwd"
exec /usr/sbin/mosquitto -c /mosquitto/config/mosquitto.conf
