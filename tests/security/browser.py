"""Signing a plain HTTP client in through the login form (a browser without JavaScript)."""

from __future__ import annotations

import re

import httpx

from .conftest import PASSWORDS, AuthServer

HTML = {"Accept": "text/html"}


def sign_in(server: AuthServer, user: str, *, password: str | None = None) -> httpx.Client:
    browser = httpx.Client(base_url=server.url, timeout=30)
    browser.get("/login", headers=HTML).raise_for_status()
    done = browser.post(
        "/login",
        data={
            "csrf_token": browser.cookies["mltrail_csrf"],
            "username": user,
            "password": password or PASSWORDS[user],
            "next": "/",
        },
    )
    assert done.status_code == 303, done.text
    return browser


def csrf(browser: httpx.Client) -> str:
    token: str = browser.cookies["mltrail_csrf"]
    return token


def error_message(page: httpx.Response) -> str:
    """The message of the UI's error page (or of a page's error banner)."""
    found = re.search(r'<pre class="message">(.*?)</pre>', page.text, re.S) or re.search(
        r'class="error-banner"[^>]*>(.*?)</div>', page.text, re.S
    )
    return found.group(1).strip() if found else ""
