"""Build the configured broker admin from Settings (the only place that reads them)."""

from __future__ import annotations

from ground_control.broker_admin.dynsec import AdminConnection
from ground_control.broker_admin.provisioner import BrokerAdmin, DynsecBrokerAdmin, NoBrokerAdmin
from ground_control.settings import Settings


class BrokerAdminMisconfigured(ValueError):
    pass


def make_broker_admin(settings: Settings) -> BrokerAdmin:
    if settings.broker_admin == "none":
        return NoBrokerAdmin()
    if settings.broker_admin_password is None:
        raise BrokerAdminMisconfigured("FLEET_BROKER_ADMIN=dynsec needs FLEET_BROKER_ADMIN_PASSWORD "
                                       "(the dynamic-security admin account's password)")
    return DynsecBrokerAdmin(AdminConnection(
        url=settings.broker_admin_url or settings.mqtt_url, username=settings.broker_admin_username,
        password=settings.broker_admin_password.get_secret_value(), ca_file=settings.mqtt_ca_file,
        # FLEET_MQTT_TLS is about FLEET_MQTT_URL; an admin URL of its own says TLS by mqtts://
        tls=settings.mqtt_tls and settings.broker_admin_url is None, timeout_s=settings.broker_admin_timeout_s,
    ))
