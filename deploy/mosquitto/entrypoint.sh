#!/bin/sh
# Start Mosquitto with the dynamic security plugin. On the first start the plugin's file is made
# with the admin account ground control provisions vehicles with (MQTT_ADMIN_USER/PASSWORD),
# so no secret is baked into the image; then the healthcheck's read-only account is added.
# Paths and the TLS port can be overridden (tests/deploy/test_mosquitto_dynsec.py runs this script).
set -eu
DATA=${MOSQUITTO_DATA:-/mosquitto/data}
CERTS=${MOSQUITTO_CERTS:-/mosquitto/certs}
CONF=${MOSQUITTO_CONF:-/mosquitto/config/mosquitto.conf}
TLS_PORT=${MQTT_TLS_PORT:-8883}
: "${MQTT_ADMIN_USER:?set MQTT_ADMIN_USER}" "${MQTT_ADMIN_PASSWORD:?set MQTT_ADMIN_PASSWORD}"
: "${MQTT_HEALTH_PASSWORD:?set MQTT_HEALTH_PASSWORD}"
mkdir -p "$DATA/certs"
for f in ca.crt broker.crt broker.key; do
  [ -f "$CERTS/$f" ] || { echo "missing $CERTS/$f: run 'fleet certs init deploy/certs'" >&2; exit 1; }
  cp "$CERTS/$f" "$DATA/certs/$f"
done
if [ ! -f "$DATA/dynamic-security.json" ]; then
  mosquitto_ctrl dynsec init "$DATA/dynamic-security.json" "$MQTT_ADMIN_USER" "$MQTT_ADMIN_PASSWORD"
fi
chown -R mosquitto:mosquitto "$DATA"
chmod 0600 "$DATA/dynamic-security.json" "$DATA/certs/broker.key"

mosquitto -c "$CONF" &
pid=$!
trap 'kill -TERM "$pid"; wait "$pid"; exit 0' TERM INT
ctrl() {
  mosquitto_ctrl -h localhost -p "$TLS_PORT" --cafile "$DATA/certs/ca.crt" -u "$MQTT_ADMIN_USER" -P "$MQTT_ADMIN_PASSWORD" \
    dynsec "$@" >/dev/null 2>&1 || true   # "already exists" on every later start
}
tries=0
until mosquitto_ctrl -h localhost -p "$TLS_PORT" --cafile "$DATA/certs/ca.crt" -u "$MQTT_ADMIN_USER" -P "$MQTT_ADMIN_PASSWORD" \
    dynsec getDefaultACLAccess >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 120 ] || { echo "the broker's dynamic security plugin does not answer" >&2; kill "$pid"; exit 1; }
  sleep 0.5
done
ctrl createRole healthcheck
ctrl addRoleACL healthcheck subscribeLiteral '$SYS/broker/uptime' allow
ctrl addRoleACL healthcheck publishClientReceive '$SYS/broker/uptime' allow
ctrl createClient healthcheck -p "$MQTT_HEALTH_PASSWORD"
ctrl setClientPassword healthcheck "$MQTT_HEALTH_PASSWORD"
ctrl addClientRole healthcheck healthcheck
wait "$pid"
