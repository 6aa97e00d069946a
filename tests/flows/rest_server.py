"""A small JSON API for testing the generic REST connector: every pagination style, every auth
style, batch writes, and faults on demand. Not the sandbox (that stands for real vendors)."""

import asyncio
import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


class State:
    def __init__(self, count: int, auth: str, secret: str):
        self.items = {
            i: {
                "id": i,
                "sku": f"SKU-{i:05d}",
                "name": f"Item {i}",
                "contact": {
                    "email": f"buyer{i}@example.test",
                    "phone": f"+33 6 12 34 {i % 100:02d} {i % 97:02d}",
                },
                "updated_at": (BASE_TIME + timedelta(minutes=i)).isoformat(),
            }
            for i in range(1, count + 1)
        }
        self.next_id = count + 1
        self.auth = auth
        self.secret = secret
        self.faults: list[int | str] = []  # statuses (or "malformed") for the next requests, in order
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.token_requests = 0
        self.tokens: set[str] = set()
        self.delay = 0.0
        self.elsewhere = ""  # where /elsewhere/items says the next page is


def make_app(count: int = 237, auth: str = "none", secret: str = "s3cret") -> Starlette:
    state = State(count, auth, secret)

    def authorised(request: Request) -> bool:
        if state.auth == "none":
            return True
        header = request.headers.get("authorization", "")
        if state.auth == "basic":
            return header == "Basic " + base64.b64encode(f"hub:{state.secret}".encode()).decode()
        if state.auth == "bearer":
            return header == f"Bearer {state.secret}"
        if state.auth == "api_key_header":
            return request.headers.get("x-api-key") == state.secret
        if state.auth == "api_key_query":
            return request.query_params.get("api_key") == state.secret
        if state.auth == "oauth2":
            return header.removeprefix("Bearer ") in state.tokens
        return False

    def rows(request: Request) -> list[dict]:
        since = request.query_params.get("updated_since")
        sku = request.query_params.get("sku")
        out = sorted(state.items.values(), key=lambda r: r["id"])
        if since:
            out = [r for r in out if r["updated_at"] > since]
        if sku:
            out = [r for r in out if r["sku"] == sku]
        return out

    async def guard(request: Request):
        state.requests += 1
        if state.delay:
            await asyncio.sleep(state.delay)
        if state.faults:
            fault = state.faults.pop(0)
            if fault == "malformed":
                return Response('{"data": [', media_type="application/json")
            headers = {"Retry-After": "1"} if fault in (429, 503) else {}
            return JSONResponse({"message": f"fault {fault}"}, status_code=int(fault), headers=headers)
        if not authorised(request):
            return JSONResponse({"message": "bad credentials"}, status_code=401)
        return None

    def endpoint(handler):
        async def wrapped(request: Request):
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
            try:
                problem = await guard(request)
                return problem or await handler(request)
            finally:
                state.in_flight -= 1

        return wrapped

    def int_param(request, name, default):
        return int(request.query_params.get(name, default))

    async def page_list(request):
        data = rows(request)
        page, per_page = int_param(request, "page", 1), int_param(request, "per_page", 50)
        total_pages = max(1, -(-len(data) // per_page))
        return JSONResponse(
            {"data": data[(page - 1) * per_page : page * per_page], "meta": {"total_pages": total_pages}}
        )

    async def offset_list(request):
        data = rows(request)
        offset, limit = int_param(request, "offset", 0), int_param(request, "limit", 50)
        return JSONResponse(data[offset : offset + limit])

    async def cursor_list(request):
        data = rows(request)
        limit = int_param(request, "limit", 50)
        start = (
            int(base64.b64decode(request.query_params["cursor"]).decode())
            if request.query_params.get("cursor")
            else 0
        )
        chunk = data[start : start + limit]
        following = start + limit
        token = base64.b64encode(str(following).encode()).decode() if following < len(data) else None
        return JSONResponse({"items": chunk, "next_cursor": token})

    async def link_list(request):
        data = rows(request)
        page, per_page = int_param(request, "page", 1), int_param(request, "per_page", 50)
        chunk = data[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(data):
            headers["Link"] = f'<{request.url.path}?page={page + 1}&per_page={per_page}>; rel="next"'
        return JSONResponse(chunk, headers=headers)

    async def next_list(request):
        data = rows(request)
        limit = int_param(request, "limit", 50)
        after = int_param(request, "after", 0)
        chunk = [r for r in data if r["id"] > after][:limit]
        nxt = (
            f"/next/items?after={chunk[-1]['id']}&limit={limit}"
            if chunk and chunk[-1]["id"] < data[-1]["id"]
            else None
        )
        return JSONResponse({"results": chunk, "next": nxt})

    async def search_after_list(request):
        data = rows(request)
        limit = int_param(request, "limit", 50)
        after = int_param(request, "search_after", 0)
        return JSONResponse([r for r in data if r["id"] > after][:limit])

    async def item(request):
        record = state.items.get(int(request.path_params["id"]))
        if record is None:
            return JSONResponse({"message": "no such item"}, status_code=404)
        if request.method == "GET":
            return JSONResponse(record)
        if request.method == "DELETE":
            del state.items[record["id"]]
            return Response(status_code=204)
        body = await request.json()
        if not body.get("name"):
            return JSONResponse({"message": "name is required"}, status_code=422)
        record.update({k: v for k, v in body.items() if k != "id"}, updated_at=datetime.now(UTC).isoformat())
        return JSONResponse(record)

    async def create(request):
        body = await request.json()
        if not body.get("name"):
            return JSONResponse({"message": "name is required"}, status_code=422)
        record = {**body, "id": state.next_id, "updated_at": datetime.now(UTC).isoformat()}
        state.items[state.next_id] = record
        state.next_id += 1
        return JSONResponse(record, status_code=201)

    async def batch(request):
        body = await request.json()
        results = []
        for entry in body["items"]:
            if not entry.get("name"):
                results.append({"error": {"message": "name is required"}})
                continue
            record = {**entry, "id": state.next_id, "updated_at": datetime.now(UTC).isoformat()}
            state.items[state.next_id] = record
            state.next_id += 1
            results.append({"id": record["id"]})
        return JSONResponse({"results": results})

    async def token(request):
        state.token_requests += 1
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        ok = form.get("client_id") == "hub" and form.get("client_secret") == state.secret
        if form.get("grant_type") == "password":
            ok = ok and form.get("username") == "hub" and form.get("password") == state.secret
        if not ok:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        value = f"tok-{state.token_requests}"
        state.tokens.add(value)
        return JSONResponse({"access_token": value, "token_type": "bearer", "expires_in": 3600})

    async def capped_list(request):
        # Like many APIs: asks for 50, gets at most 20.
        data = rows(request)
        page, per_page = int_param(request, "page", 1), min(20, int_param(request, "per_page", 50))
        return JSONResponse(data[(page - 1) * per_page : page * per_page])

    async def moved(request):
        return Response(status_code=301, headers={"Location": "/page/items"})

    async def elsewhere(request):
        return JSONResponse({"results": [state.items[1]], "next": state.elsewhere})

    async def html_page(request):
        return Response("<html>not json</html>", media_type="text/html")

    routes = [
        Route("/page/items", endpoint(page_list)),
        Route("/page/items", endpoint(create), methods=["POST"]),
        Route("/page/items/batch", endpoint(batch), methods=["POST"]),
        Route("/page/items/{id:int}", endpoint(item), methods=["GET", "PUT", "DELETE"]),
        Route("/offset/items", endpoint(offset_list)),
        Route("/cursor/items", endpoint(cursor_list)),
        Route("/link/items", endpoint(link_list)),
        Route("/next/items", endpoint(next_list)),
        Route("/search_after/items", endpoint(search_after_list)),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/html", endpoint(html_page)),
        Route("/capped/items", endpoint(capped_list)),
        Route("/moved", endpoint(moved)),
        Route("/elsewhere/items", endpoint(elsewhere)),
    ]
    app = Starlette(routes=routes)
    app.state.api = state
    return app


def entity(kind: str, **extra) -> dict:
    """The REST connector's entity definition for one pagination style of this server."""
    paging = {
        "page": {
            "type": "page",
            "page_param": "page",
            "size_param": "per_page",
            "page_size": 50,
            "total_pages_path": "meta.total_pages",
        },
        "offset": {"type": "offset", "offset_param": "offset", "limit_param": "limit", "page_size": 50},
        "cursor": {
            "type": "cursor",
            "cursor_param": "cursor",
            "cursor_path": "next_cursor",
            "size_param": "limit",
            "page_size": 50,
        },
        "link": {"type": "link", "size_param": "per_page", "page_size": 50},
        "next_url": {"type": "next_url", "next_url_path": "next", "size_param": "limit", "page_size": 50},
        "search_after": {
            "type": "search_after",
            "search_after_param": "search_after",
            "search_after_field": "id",
            "size_param": "limit",
            "page_size": 50,
        },
    }[kind]
    records_path = {"page": "data", "cursor": "items", "next_url": "results"}.get(kind, "")
    prefix = "next" if kind == "next_url" else kind
    return {
        "key": kind,
        "path": f"/{prefix}/items",
        "records_path": records_path,
        "id_field": "id",
        "cursor_field": "updated_at",
        "natural_keys": ["sku"],
        "pagination": paging,
        "incremental": {"param": "updated_since", "format": "iso"},
        **extra,
    }


ALL_KINDS = ("page", "offset", "cursor", "link", "next_url", "search_after")
