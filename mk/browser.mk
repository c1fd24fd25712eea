# Debian's Chromium for the browser tests (docs site, dashboard). Installed once, as root,
# from the Debian packages; Playwright drives it (its own browser download is not used).
CHROMIUM ?= /usr/bin/chromium

.PHONY: setup-browser
setup-browser:
	@test -x $(CHROMIUM) || apt-get install -y --no-install-recommends chromium \
	  || (apt-get update && apt-get install -y --no-install-recommends chromium)
