#!/bin/sh
# Build the password file from MQTT_USERS ("user:password user2:password2") at start, so no
# secret is baked into the image; Mosquitto drops to the mosquitto user before reading it.
set -eu
: > /mosquitto/data/passwd
for pair in ${MQTT_USERS:?set MQTT_USERS to "user:password ..."}; do
  mosquitto_passwd -b /mosquitto/data/passwd "${pair%%:*}" "${pair#*:}"
done
chown mosquitto:mosquitto /mosquitto/data/passwd /mosquitto/data
chmod 0600 /mosquitto/data/passwd
exec mosquitto -c /mosquitto/config/mosquitto.conf
