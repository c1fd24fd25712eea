"""The dashboard's login (streamlit-authenticator), run by app.py before any page.

Users, their bcrypt-hashed passwords and what they see live in the user file
(mypizza/users.py; `mypizza users add`). The login cookie is a JWT signed with the cookie
key from secrets and lasts ``[dashboard] session_hours`` (default 8); the session itself
ends at the same moment even if the browser keeps the tab open. The user is looked up in
the user file again on every rerun: a removed user is logged out at their next click.
"""

from __future__ import annotations

import time

import jwt
import streamlit as st

from dashboard.data import Access, access_for
from mypizza import users

COOKIE_NAME = "mypizza_dashboard"
EXPIRES = "mypizza_session_expires_at"


def _stop_with(message: str) -> None:
    st.error(message)
    st.stop()


def require_login() -> Access:
    """Show the login form and stop the run unless a user is logged in; returns what the
    logged-in user may see. Every page runs after this (app.py), so a new page is covered."""
    import streamlit_authenticator as stauth
    from streamlit_authenticator.utilities import LoginError

    key = users.cookie_key()
    if not key:
        _stop_with(f"The dashboard has no cookie key: {users.COOKIE_KEY_HINT}.")
    try:
        hours = users.session_hours()
        credentials = users.read_credentials()
    except users.UsersError as error:
        _stop_with(str(error))
    if not credentials["usernames"]:
        _stop_with(
            f"No dashboard users yet ({users.users_file()}): create the first with "
            "`mypizza users add NAME --role head_office` (docs/security.md)."
        )
    authenticator = stauth.Authenticate(
        credentials,
        cookie_name=COOKIE_NAME,
        cookie_key=key,
        cookie_expiry_days=hours / 24,
        auto_hash=False,  # the file holds only hashes; a plain-text password is refused below
    )
    if st.session_state.pop("mypizza_delete_cookie", False):
        authenticator.cookie_controller.delete_cookie()  # in a run that is not cut short
    if st.session_state.pop("mypizza_expired", False):
        st.info("Your session expired: log in again.")
    was_logged_in = st.session_state.get("authentication_status") is True
    try:
        authenticator.login(location="main", key="login")
    except LoginError as error:  # e.g. a cookie of a user since removed
        st.session_state["logout"] = True
        authenticator.cookie_controller.delete_cookie()
        _stop_with(f"Login refused: {error}. Reload the page to log in.")
    status = st.session_state.get("authentication_status")
    if status is False:
        _stop_with("Wrong user name or password.")
    if not status:
        st.stop()  # the login form is shown, nothing else

    if not was_logged_in:
        # logged in just now: run again so the pages are listed and the login form is gone;
        # that run sets the login cookie (set in this one it could be lost with the rerun)
        st.session_state["mypizza_set_cookie"] = _cookie_expiry(key) is None
        st.rerun()
    if st.session_state.pop("mypizza_set_cookie", False):
        authenticator.cookie_controller.set_cookie()
    username = st.session_state["username"]
    entry = users.read_credentials()["usernames"].get(username)
    if not entry or not str(entry.get("password", "")).startswith("$2"):
        authenticator.logout(location="unrendered")
        _stop_with(f"User {username} may no longer log in. Reload the page.")
    now = time.time()
    if EXPIRES not in st.session_state:
        st.session_state[EXPIRES] = _cookie_expiry(key) or now + hours * 3600
    if now >= st.session_state[EXPIRES]:
        authenticator.logout(location="unrendered")
        st.session_state.pop(EXPIRES, None)
        st.session_state.pop("access", None)
        st.session_state["mypizza_expired"] = True
        st.session_state["mypizza_delete_cookie"] = True
        st.rerun()
    access = access_for(users.user_from_entry(username, entry))
    with st.sidebar:
        st.caption(f"Logged in as **{username}** ({access.role.replace('_', ' ')})")
        authenticator.logout("Log out", location="sidebar", key="mypizza_logout")
    if not st.session_state.get("authentication_status"):  # "Log out" was pressed
        st.session_state.pop(EXPIRES, None)
        st.session_state.pop("access", None)
        st.session_state["mypizza_delete_cookie"] = True
        st.rerun()
    return access


def _cookie_expiry(key: str) -> float | None:
    """When the browser's login cookie (if it came with one, validly signed) expires."""
    token = st.context.cookies.get(COOKIE_NAME)
    if not token:
        return None
    try:
        return float(jwt.decode(token, key, algorithms=["HS256"])["exp_date"])
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None
