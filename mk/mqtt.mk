# The kitchen devices' MQTT broker: Debian's mosquitto. `mypizza ingest iot` (and `make run`)
# start it for the simulated world on 127.0.0.1; the IoT tests start their own. Installed once,
# as root, from the Debian packages; without root it says what to install.
MOSQUITTO ?= /usr/sbin/mosquitto

.PHONY: setup-mqtt
setup-mqtt:
	@test -x $(MOSQUITTO) || command -v mosquitto >/dev/null 2>&1 \
	  || apt-get install -y --no-install-recommends mosquitto \
	  || (apt-get update && apt-get install -y --no-install-recommends mosquitto) \
	  || { echo "mosquitto (the MQTT broker of the kitchen devices) is missing and could not be installed: as root, run apt-get install -y --no-install-recommends mosquitto" >&2; exit 1; }

run: setup-mqtt
pytest: setup-mqtt
test-spark: setup-mqtt
test-fast: setup-mqtt
