# The store managers' dashboard (Streamlit, dashboard/app.py) on 127.0.0.1, reading the
# published copy of the warehouse read-only: run it after `make run`, beside any pipeline run.
# It asks for a login: create the first user with
#   .venv/bin/mypizza users add NAME --role head_office     (docs/security.md)
#   make dashboard                       http://127.0.0.1:8501
#   make dashboard DASHBOARD_PORT=8600   another port
# Its browser tests (tests/python/test_dashboard.py) run in `make pytest`.
DASHBOARD_PORT ?= 8501

.PHONY: dashboard
dashboard: setup
	$(BIN)/streamlit run dashboard/app.py --server.address 127.0.0.1 \
	  --server.port $(DASHBOARD_PORT) --server.headless true \
	  --browser.gatherUsageStats false --client.toolbarMode viewer
