"""Loopback fake servers that speak real protocols."""

from aiohttp import web


async def cut_off(request: web.Request, body: bytes, headers: dict[str, str]) -> web.StreamResponse:
    """Announce all of ``body`` (Content-Length), send half of it and drop the
    connection: a response cut off in the middle, as a failing link delivers it."""
    resp = web.StreamResponse(headers=headers)
    resp.content_length = len(body)
    await resp.prepare(request)
    await resp.write(body[: len(body) // 2])
    assert request.transport is not None
    request.transport.close()
    return resp
