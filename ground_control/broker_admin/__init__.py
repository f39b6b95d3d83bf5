"""Per-vehicle broker credentials: ground control provisions a Mosquitto dynamic-security client
and role for every registered vehicle and revokes them when the vehicle is deleted or disabled.

``acl`` holds the pure rules (who may publish and subscribe where), ``dynsec`` the thin async
client that sends them to the broker, ``provisioner`` what the API calls, ``certs`` the TLS
material ``fleet certs`` writes."""
