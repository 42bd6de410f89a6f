"""A process that spends a shared rate budget, for test_shared_rate_limits_postgres.py and
benchmarks/shared_budgets.py (a script, not a test module).

    python shared_budget_worker.py shipstation STATE_URL BASE_URL KEY SECRET COUNT START
        COUNT ``GET /stores`` calls through a ShipStation client whose budget is in the
        PostgreSQL state (``STATE_URL``, or ``-`` for this process's own limiter), from the
        epoch instant START on (so that every worker begins in one window); prints JSON.
    python shared_budget_worker.py backmarket STATE_URL TOKEN SCOPE HOST
        one reservation of a Back Market client's general limiter (scope ``token`` or
        ``host``); prints the seconds it was told to wait.
"""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    from backmarket_shipstation import BackMarketClient, ShipStationClient
    from backmarket_shipstation.errors import RateLimitedError
    from backmarket_shipstation.rate_limits import RateLimits
    from backmarket_shipstation.sync.postgres_rate_limits import PostgresRateLimitStore

    if argv[0] == "shipstation":
        state_url, base_url, key, secret, count, start = argv[1:7]
        limits = None if state_url == "-" else RateLimits(PostgresRateLimitStore(state_url))
        with ShipStationClient(
            api_key=key, api_secret=secret, base_url=base_url, rate_limits=limits
        ) as ss:
            time.sleep(max(0.0, float(start) - time.time()))
            began = time.perf_counter()
            failed = 0
            for _ in range(int(count)):
                try:
                    ss.stores.list()
                except RateLimitedError:
                    failed += 1  # 429s beyond the retry policy's attempts: the call is lost
            elapsed = time.perf_counter() - began
        updates = 0 if limits is None else limits.store.updates  # type: ignore[attr-defined]
        if limits is not None:
            limits.store.close()  # type: ignore[attr-defined]
        print(
            json.dumps(
                {
                    "calls": int(count),
                    "failed": failed,
                    "seconds": elapsed,
                    "finished": time.time(),
                    "store_updates": updates,
                }
            )
        )
        return 0
    if argv[0] == "backmarket":
        state_url, token, scope, host = argv[1:5]
        limits = RateLimits(
            PostgresRateLimitStore(state_url),
            backmarket_scope="host" if scope == "host" else "token",
            host=host,
        )
        client = BackMarketClient(
            token=token, user_agent="BM-Acme-ShipStation;ops@acme.example", rate_limits=limits
        )
        print(json.dumps({"wait": client._core.limiter.reserve()}))
        client.close()
        limits.store.close()  # type: ignore[attr-defined]
        return 0
    raise SystemExit(f"unknown mode {argv[0]!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
