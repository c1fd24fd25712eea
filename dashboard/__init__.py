"""The store managers' dashboard (Streamlit): `make dashboard`, see README "Dashboard"."""
