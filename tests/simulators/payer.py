"""What a payer's browser does on the simulated PayPal pages, for tests."""

from urllib.parse import parse_qs, urlsplit

import requests


def site_path(url):
    """The path and query of an absolute URL on the site, for Django's test client."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def _origin(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def open_page(url):
    response = requests.get(url, timeout=5, allow_redirects=False)
    response.raise_for_status()
    return response


def pay_on_hosted_page(redirect_url, *, card="4111111111111111", expiry="1230", cvv="123"):
    """Open the Payflow hosted page and submit a card; returns the simulator's answer (a redirect)."""
    open_page(redirect_url)
    query = parse_qs(urlsplit(redirect_url).query)
    data = {
        "SECURETOKEN": query["SECURETOKEN"][0],
        "SECURETOKENID": query["SECURETOKENID"][0],
        "ACCT": card,
        "EXPDATE": expiry,
        "CVV2": cvv,
    }
    return requests.post(_origin(redirect_url) + "/hosted/pay", data=data, timeout=5, allow_redirects=False)


def cancel_on_hosted_page(redirect_url):
    query = urlsplit(redirect_url).query
    return requests.get(_origin(redirect_url) + "/hosted/cancel?" + query, timeout=5, allow_redirects=False)


def approve_at_paypal(redirect_url, *, funding="balance"):
    """Open the Express Checkout approval page, pick how to pay (``balance``, ``echeck``, ``review``...)
    and click "Pay now"; returns the return URL."""
    open_page(redirect_url)
    token = parse_qs(urlsplit(redirect_url).query)["token"][0]
    response = requests.post(
        _origin(redirect_url) + "/webscr/approve",
        data={"token": token, "funding": funding},
        timeout=5,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def cancel_at_paypal(redirect_url):
    token = parse_qs(urlsplit(redirect_url).query)["token"][0]
    response = requests.get(
        _origin(redirect_url) + "/webscr/cancel", params={"token": token}, timeout=5, allow_redirects=False
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"]
