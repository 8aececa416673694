"""HTTP clients for the servers the tests start on loopback (trackledger, MLflow, the S3
server). httpx builds a TLS context for every client it makes, parsing certifi's CA bundle
(35 ms of CPU on these machines); the suite made about 1,500 of them (``httpx.get`` makes
one a call, and a server's start polls its health ten times a second), a sixth of the
workers' CPU, to speak plain HTTP. These clients share one context."""

from __future__ import annotations

import ssl
from typing import Any

import httpx

_TLS = ssl.create_default_context()


def client(**options: Any) -> httpx.Client:
    return httpx.Client(verify=_TLS, **options)


def async_client(**options: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(verify=_TLS, **options)


def request(method: str, url: str, **options: Any) -> httpx.Response:
    """One request on a client of its own (no connection kept), as ``httpx.request``."""
    with client() as http:
        return http.request(method, url, **options)


def get(url: str, **options: Any) -> httpx.Response:
    return request("GET", url, **options)


def post(url: str, **options: Any) -> httpx.Response:
    return request("POST", url, **options)


def put(url: str, **options: Any) -> httpx.Response:
    return request("PUT", url, **options)
