#!/bin/sh
# Writes the remote users' password file and ACL from the environment, then runs the broker.
# Two remote roles, each optional:
#   VIGIL_MQTT_REMOTE_USERNAME / _PASSWORD   reads what vigil publishes (vigil/#)
#   VIGIL_MQTT_SENSOR_USERNAME / _PASSWORD   also writes readings, only under sensors/<its name>/
#   VIGIL_MQTT_OPERATOR_USERNAME / _PASSWORD also sends operator commands (vigil/<device>/<asset>/command)
#                                            and fleet model bundles (vigil/fleet/<fleet>/model)
# A name must be 1-64 of A-Z a-z 0-9 _ . - and must not start with "vigil": on the published
# listener a client's id is its user name, and vigil's own client ids start with "vigil".
# (VIGIL_MOSQUITTO_DATA and VIGIL_MOSQUITTO_CONFIG exist for the tests, which run this script
# against a real broker outside the image.)
set -eu
data=${VIGIL_MOSQUITTO_DATA:-/mosquitto/data}
config=${VIGIL_MOSQUITTO_CONFIG:-/mosquitto/config/mosquitto.conf}
passwd="$data/passwd"
acl="$data/acl"

refuse() {
  echo "vigil: $1" >&2
  exit 1
}

check_name() {
  case "$2" in
    vigil*) refuse "$1 '$2' starts with 'vigil', which is kept for vigil's own client ids: choose another name" ;;
    *[!A-Za-z0-9_.-]*) refuse "$1 may hold only A-Z a-z 0-9 _ . - (it is a client id and a topic level)" ;;
  esac
  [ "${#2}" -le 64 ] || refuse "$1 is longer than 64 characters"
}

: > "$passwd"
{
  echo "# Written at start by entrypoint.sh from VIGIL_MQTT_REMOTE_* and VIGIL_MQTT_SENSOR_*."
  echo "# Every remote user reads what vigil publishes: its own topics, Home Assistant discovery, Sparkplug B."
  echo "pattern read vigil/#"
  echo "pattern read homeassistant/#"
  echo "pattern read spBv1.0/#"
} > "$acl"

if [ -n "${VIGIL_MQTT_REMOTE_USERNAME:-}" ] && [ -n "${VIGIL_MQTT_REMOTE_PASSWORD:-}" ]; then
  check_name VIGIL_MQTT_REMOTE_USERNAME "$VIGIL_MQTT_REMOTE_USERNAME"
  mosquitto_passwd -b "$passwd" "$VIGIL_MQTT_REMOTE_USERNAME" "$VIGIL_MQTT_REMOTE_PASSWORD"
  {
    echo "user $VIGIL_MQTT_REMOTE_USERNAME"
    echo "# Home Assistant's birth message, so it gets the discovery configs again when it starts."
    echo "topic write homeassistant/status"
  } >> "$acl"
  echo "vigil: remote MQTT user '$VIGIL_MQTT_REMOTE_USERNAME' can read vigil/#, homeassistant/# and spBv1.0/# on port 1883"
else
  echo "vigil: VIGIL_MQTT_REMOTE_USERNAME/PASSWORD not set: no remote subscriber can connect"
fi

if [ -n "${VIGIL_MQTT_SENSOR_USERNAME:-}" ] && [ -n "${VIGIL_MQTT_SENSOR_PASSWORD:-}" ]; then
  check_name VIGIL_MQTT_SENSOR_USERNAME "$VIGIL_MQTT_SENSOR_USERNAME"
  [ "$VIGIL_MQTT_SENSOR_USERNAME" != "${VIGIL_MQTT_REMOTE_USERNAME:-}" ] || refuse "the sensor user and the remote user must be different users"
  mosquitto_passwd -b "$passwd" "$VIGIL_MQTT_SENSOR_USERNAME" "$VIGIL_MQTT_SENSOR_PASSWORD"
  {
    echo "user $VIGIL_MQTT_SENSOR_USERNAME"
    echo "topic write sensors/$VIGIL_MQTT_SENSOR_USERNAME/#"
  } >> "$acl"
  echo "vigil: sensor user '$VIGIL_MQTT_SENSOR_USERNAME' can write readings under sensors/$VIGIL_MQTT_SENSOR_USERNAME/ on port 1883"
fi

if [ -n "${VIGIL_MQTT_OPERATOR_USERNAME:-}" ] && [ -n "${VIGIL_MQTT_OPERATOR_PASSWORD:-}" ]; then
  check_name VIGIL_MQTT_OPERATOR_USERNAME "$VIGIL_MQTT_OPERATOR_USERNAME"
  for other in "${VIGIL_MQTT_REMOTE_USERNAME:-}" "${VIGIL_MQTT_SENSOR_USERNAME:-}"; do
    [ "$VIGIL_MQTT_OPERATOR_USERNAME" != "$other" ] || refuse "the operator user must be a user of its own"
  done
  mosquitto_passwd -b "$passwd" "$VIGIL_MQTT_OPERATOR_USERNAME" "$VIGIL_MQTT_OPERATOR_PASSWORD"
  {
    echo "user $VIGIL_MQTT_OPERATOR_USERNAME"
    echo "topic write vigil/+/+/command"
    echo "# A SCADA host's Sparkplug rebirth request."
    echo "topic write spBv1.0/+/NCMD/+"
    echo "# Signed model bundles for the fleet (retained), taken only if the device's public key verifies them."
    echo "topic write vigil/fleet/+/model"
  } >> "$acl"
  echo "vigil: operator user '$VIGIL_MQTT_OPERATOR_USERNAME' can send commands on vigil/<device>/<asset>/command on port 1883"
fi

if id mosquitto >/dev/null 2>&1; then chown mosquitto:mosquitto "$passwd" "$acl" "$data"; fi
chmod 0600 "$passwd" "$acl"
exec /usr/sbin/mosquitto -c "$config"
