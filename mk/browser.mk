# Debian's Chromium for the browser tests (docs site, dashboard): `make pytest` installs it
# once from the Debian packages, which needs root (apt-get); Playwright drives it (its own
# browser download is not used). Another Chromium: CHROMIUM=/path/to/chromium (the tests
# read it as MYPIZZA_CHROMIUM).
CHROMIUM ?= /usr/bin/chromium
export MYPIZZA_CHROMIUM ?= $(CHROMIUM)

.PHONY: setup-browser
setup-browser:
	@test -x $(CHROMIUM) && exit 0; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "make: the browser tests need Chromium at $(CHROMIUM). Install Debian's chromium" \
	    "package as root (apt-get install -y --no-install-recommends chromium) or set" \
	    "CHROMIUM=/path/to/chromium." >&2; \
	  exit 1; \
	fi; \
	echo "make: installing Debian's chromium for the browser tests (apt-get)"; \
	apt-get install -y --no-install-recommends chromium >/dev/null \
	  || { apt-get update >/dev/null && apt-get install -y --no-install-recommends chromium >/dev/null; } \
	  || { echo "make: apt-get could not install chromium (see above); the browser tests need" \
	         "it at $(CHROMIUM)." >&2; exit 1; }; \
	test -x $(CHROMIUM) || { echo "make: Debian's chromium is installed, but not at" \
	  "$(CHROMIUM): set CHROMIUM=/path/to/chromium." >&2; exit 1; }
