"""Responses that Back Market's Cloudflare edge sends before a request reaches the API.

Shared by the Back Market simulator (its User-Agent check) and the fault injector (random
firewall blocks), so both look like the real edge: ``text/html``, ``server: cloudflare`` and a
``cf-ray`` header that sellers quote to support.
"""

from __future__ import annotations

import random

import httpx

__all__ = ["firewall_block", "ray_id"]


def ray_id(rng: random.Random) -> str:
    """A Cloudflare ray id: 16 hex digits and a data-centre code."""
    return f"{rng.getrandbits(64):016x}-CDG"


def firewall_block(request: httpx.Request, ray: str) -> httpx.Response:
    """The HTML 403 page Cloudflare serves when its WAF or bot management blocks a request."""
    html = (
        '<!DOCTYPE html>\n<html lang="en-US"><head><title>Attention Required! | Cloudflare'
        '</title></head>\n<body><div id="cf-wrapper"><h1>Sorry, you have been blocked</h1>'
        f"<h2>You are unable to access {request.url.host or 'this site'}</h2>"
        "<p>This website is using a security service to protect itself from online attacks."
        '</p><p>Cloudflare Ray ID: <strong class="font-semibold">'
        f"{ray.split('-')[0]}</strong></p></div></body></html>\n"
    )
    return httpx.Response(
        403,
        headers={"content-type": "text/html; charset=UTF-8", "server": "cloudflare", "cf-ray": ray},
        content=html.encode(),
        request=request,
    )
