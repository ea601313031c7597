"""Ostra as a service: the REST API (``executor.api.app``, FastAPI) and its client
(``executor.api.http_client.HttpClient``, httpx).

Import from the submodules: this package imports neither FastAPI nor httpx by itself.
"""
