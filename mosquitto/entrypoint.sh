#!/bin/sh
# Writes the remote users' password file and ACL from the environment, then runs the broker.
# Two remote roles, each optional:
#   VIGIL_MQTT_REMOTE_USERNAME / _PASSWORD   reads what vigil publishes (vigil/#)
#   VIGIL_MQTT_SENSOR_USERNAME / _PASSWORD   also writes readings, only under sensors/<its name>/
#   VIGIL_MQTT_OPERATOR_USERNAME / _PASSWORD also sends operator commands (vigil/<device>/<asset>/command,
#                                            vigil/<device>/command)
#                                            and fleet model bundles (vigil/fleet/<fleet>/model)
# A name must be 1-64 of A-Z a-z 0-9 _ . - and must not start with "vigil": on the published
# listener a client's id is its user name, and vigil's own client ids start with "vigil".
#
# The published listeners, written into $data/listeners/ (the conf includes that folder):
#   8883, TLS: the certificate in VIGIL_MQTT_TLS_CERT_FILE / _KEY_FILE, or else one generated here
#         on first start (self-signed, EC P-256, ten years; names: the host name, localhost,
#         127.0.0.1 and VIGIL_MQTT_TLS_HOSTNAMES), kept in $data/tls/ and made anew only when those
#         names change; its SHA-256 fingerprint is logged when it is made.
#   1883, plaintext: only with VIGIL_MQTT_PLAINTEXT=true (a password would cross the LAN in clear).
# (VIGIL_MOSQUITTO_DATA, _CONFIG, _TLS_PORT, _PLAIN_PORT and _BIND exist for the tests, which run
# this script against a real broker outside the image.)
set -eu
data=${VIGIL_MOSQUITTO_DATA:-/mosquitto/data}
config=${VIGIL_MOSQUITTO_CONFIG:-/mosquitto/config/mosquitto.conf}
passwd="$data/passwd"
acl="$data/acl"
listeners="$data/listeners"
tls="$data/tls"

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
  echo "vigil: remote MQTT user '$VIGIL_MQTT_REMOTE_USERNAME' can read vigil/#, homeassistant/# and spBv1.0/# on the published port"
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
  echo "vigil: sensor user '$VIGIL_MQTT_SENSOR_USERNAME' can write readings under sensors/$VIGIL_MQTT_SENSOR_USERNAME/ on the published port"
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
    echo "# The device's own topic: what applies to every asset (mute, unmute, relearn)."
    echo "topic write vigil/+/command"
    echo "# A SCADA host's Sparkplug rebirth request."
    echo "topic write spBv1.0/+/NCMD/+"
    echo "# Signed model bundles for the fleet (retained), taken only if the device's public key verifies them."
    echo "topic write vigil/fleet/+/model"
  } >> "$acl"
  echo "vigil: operator user '$VIGIL_MQTT_OPERATOR_USERNAME' can send commands on vigil/<device>/<asset>/command on the published port"
fi

case "${VIGIL_MQTT_PLAINTEXT:-false}" in
  true | false) ;;
  *) refuse "VIGIL_MQTT_PLAINTEXT must be true or false" ;;
esac

mkdir -p "$listeners" "$tls"
cert=${VIGIL_MQTT_TLS_CERT_FILE:-}
key=${VIGIL_MQTT_TLS_KEY_FILE:-}
if [ -n "$cert" ] || [ -n "$key" ]; then
  [ -n "$cert" ] && [ -n "$key" ] || refuse "a TLS certificate needs its key: set both VIGIL_MQTT_TLS_CERT_FILE and VIGIL_MQTT_TLS_KEY_FILE"
  [ -r "$cert" ] || refuse "VIGIL_MQTT_TLS_CERT_FILE: cannot read $cert"
  [ -r "$key" ] || refuse "VIGIL_MQTT_TLS_KEY_FILE: cannot read $key"
  # Copied where the broker's own user can read them (a key given as root's 0600 file could not be).
  cp "$cert" "$tls/provided.crt"
  cp "$key" "$tls/provided.key"
  cert="$tls/provided.crt"
  key="$tls/provided.key"
  echo "vigil: MQTT over TLS with the certificate in VIGIL_MQTT_TLS_CERT_FILE"
else
  cert="$tls/server.crt"
  key="$tls/server.key"
  host=$(hostname 2>/dev/null || echo vigil)
  names="DNS:$host,DNS:localhost,IP:127.0.0.1"
  for name in $(echo "${VIGIL_MQTT_TLS_HOSTNAMES:-}" | tr ',' ' '); do
    case "$name" in
      *[!0-9.]*) names="$names,DNS:$name" ;;
      *) names="$names,IP:$name" ;;
    esac
  done
  if [ ! -s "$cert" ] || [ ! -s "$key" ] || [ "$(cat "$tls/names" 2>/dev/null)" != "$names" ]; then
    command -v openssl >/dev/null 2>&1 || refuse "openssl is needed to make the TLS certificate: give one in VIGIL_MQTT_TLS_CERT_FILE and _KEY_FILE"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=$host" -addext "subjectAltName=$names" -keyout "$key.new" -out "$cert.new" 2>/dev/null \
      || refuse "could not make the TLS certificate (openssl failed)"
    mv "$key.new" "$key"
    mv "$cert.new" "$cert"
    echo "$names" > "$tls/names"
    fingerprint=$(openssl x509 -in "$cert" -noout -fingerprint -sha256 | sed 's/^.*=//')
    echo "vigil: generated the MQTT TLS certificate for $names; SHA-256 fingerprint $fingerprint (clients verify it: give them $cert as their CA, or pin the fingerprint)"
  fi
fi

# One listener's lines: the port, then who may connect (per_listener_settings is on).
published() {
  echo "listener $1 ${VIGIL_MOSQUITTO_BIND:-}"
  shift
  for line in "$@"; do echo "$line"; done
  echo "allow_anonymous false"
  echo "password_file $passwd"
  echo "acl_file $acl"
  echo "use_username_as_clientid true"
}
rm -f "$listeners"/*.conf
published "${VIGIL_MOSQUITTO_TLS_PORT:-8883}" "certfile $cert" "keyfile $key" "tls_version tlsv1.2" > "$listeners/tls.conf"
if [ "${VIGIL_MQTT_PLAINTEXT:-false}" = true ]; then
  published "${VIGIL_MOSQUITTO_PLAIN_PORT:-1883}" > "$listeners/plaintext.conf"
  echo "vigil: VIGIL_MQTT_PLAINTEXT=true: plaintext MQTT on port ${VIGIL_MOSQUITTO_PLAIN_PORT:-1883} as well as TLS on ${VIGIL_MOSQUITTO_TLS_PORT:-8883} (passwords cross the LAN in clear)"
fi

if id mosquitto >/dev/null 2>&1; then chown -R mosquitto:mosquitto "$passwd" "$acl" "$data" "$tls"; fi
chmod 0600 "$passwd" "$acl" "$key"
exec /usr/sbin/mosquitto -c "$config"
