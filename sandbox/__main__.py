"""``python -m sandbox serve``: the four stand-ins in one process, one uvicorn server each.

    python -m sandbox serve [--only pim,shop,erp,crm] [--data-dir var/sandbox] [--memory]
                            [--host 127.0.0.1] [--base-port 8101] [--seed 42] [--activity SECONDS]

Ports: base+0 pim, base+1 shop, base+2 erp, base+3 crm, base+4 shopify, base+5 woo
(8101-8106 by default). With a data dir
(the default, ``var/sandbox``) each system keeps its records in ``<dir>/<name>.sqlite3``: seeded
on first start, kept afterwards. ``--memory`` starts from the seed every time. Ctrl-C or SIGTERM
stops every server cleanly. ``--activity N`` (or ``SANDBOX_ACTIVITY_SECONDS``) makes the systems
change on their own every N seconds (new shop orders, ERP stock moves, PIM edits: see
``sandbox.activity``). ``python -m sandbox seed-check`` prints the seed sizes and timings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time

from .credentials import describe
from .server import SYSTEMS, bind, build, make_server, port_of, serve_all, store_file

PATHS = {
    "pim": "/api/rest/v1/products",
    "shop": "/rest/default/V1/",
    "erp": "/jsonrpc",
    "crm": "/crm/v3/objects/contacts",
    "shopify": "/admin/api/2025-10/graphql.json",
    "woo": "/wp-json/wc/v3/",
}


def _systems(only: str | None) -> list[str]:
    if not only:
        return list(SYSTEMS)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SYSTEMS]
    if unknown:
        raise SystemExit(f"unknown system(s): {', '.join(unknown)}; choose among {', '.join(SYSTEMS)}")
    return names


async def _serve(args: argparse.Namespace) -> None:
    names = _systems(args.only)
    pairs = []
    apps = {}
    for name in names:
        path = None if args.memory else store_file(args.data_dir, name)
        started = time.perf_counter()
        app = build(name, store_path=path, seed=args.seed)
        apps[name] = app
        elapsed = time.perf_counter() - started
        port = port_of(name, args.base_port)
        sock = bind(args.host, port)
        pairs.append((make_server(app, host=args.host, port=port), sock))
        host = f"[{args.host}]" if ":" in args.host else args.host
        store = "memory" if args.memory else path
        print(
            f"{name:<4} http://{host}:{port}{PATHS[name]}  {describe(name, app.credentials)}  "
            f"(store: {store}, seed {app.seed}, ready in {elapsed:.2f}s)",
            flush=True,
        )
    print(
        "admin: GET/PUT /_sandbox/faults, GET/PUT /_sandbox/webhooks, POST /_sandbox/reset, "
        "GET /_sandbox/stats on every server",
        flush=True,
    )
    activity = None
    if args.activity and args.activity > 0:
        from .activity import Activity

        activity = Activity(apps, args.activity)
        print(f"activity: every {args.activity:g} s (shop orders, ERP stock, PIM edits)", flush=True)

    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server, _ in pairs:
            if server.should_exit:
                server.force_exit = True
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    await serve_all(pairs, activity)
    for server, _ in pairs:
        server.config.app.close()
    print("sandbox stopped", flush=True)


def _seed_check(args: argparse.Namespace) -> None:
    from .seed import dataset

    started = time.perf_counter()
    data = dataset(args.seed)
    generated = time.perf_counter() - started
    print(
        f"dataset seed={args.seed}: {len(data.products)} products, {len(data.stock)} stock quants in "
        f"{len(data.warehouses)} warehouses, {len(data.customers)} customers, {len(data.orders)} orders, "
        f"{len(data.crm_customers)} CRM contacts (generated in {generated:.2f}s)"
    )
    for name in SYSTEMS:
        started = time.perf_counter()
        app = build(name, store_path=None, seed=args.seed)
        counts = {}
        for entity in (
            "product",
            "product.product",
            "stock.quant",
            "res.partner",
            "sale.order",
            "sale.order.line",
            "customer",
            "order",
            "contact",
            "variation",
            "family",
            "category",
            "attribute",
        ):
            n = app.store.count(entity)
            if n:
                counts[entity] = n
        print(f"{name:<4} seeded in {time.perf_counter() - started:.2f}s: {counts}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox", description="Stand-ins for the hub's foreign systems."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve pim, shop, erp and crm")
    serve.add_argument("--only", help="comma-separated subset of pim,shop,erp,crm")
    serve.add_argument(
        "--data-dir", default="var/sandbox", help="where the SQLite files live (default var/sandbox)"
    )
    serve.add_argument("--memory", action="store_true", help="in-memory stores, seeded on every start")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--base-port", type=int, default=8101)
    serve.add_argument("--seed", type=int, default=42)
    serve.add_argument(
        "--activity",
        type=float,
        default=float(os.environ.get("SANDBOX_ACTIVITY_SECONDS") or 0),
        metavar="SECONDS",
        help="every SECONDS, a new shop order, ERP stock moves and now and then a PIM edit (default off; "
        "env SANDBOX_ACTIVITY_SECONDS)",
    )
    check = sub.add_parser("seed-check", help="print the seed sizes and timings")
    check.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    if args.command == "serve":
        try:
            import uvloop

            uvloop.run(_serve(args))
        except ImportError:
            asyncio.run(_serve(args))
        return 0
    _seed_check(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
