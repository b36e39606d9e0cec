"""``python -m graph_api_sim`` / ``graph-api-sim``: run the simulator."""

from __future__ import annotations

import argparse
import sys

from .app import create_app
from .catalog import LOGIN_CHOICES
from .config import EXPANDED_INSIGHTS_WEIGHTS, THROTTLE_CODES, SimConfig
from .server import serve


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="graph-api-sim", description="Instagram Graph API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--accounts", type=int, default=3)
    parser.add_argument("--media-per-account", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pre-business-share", type=float, default=None,
                        help="share of each feed (its oldest media) posted before the business conversion")
    parser.add_argument("--container-finish-seconds", type=float, default=2.0,
                        help="processing time of image containers (video and reels: 3x)")
    parser.add_argument("--calls-per-hour", type=int, default=4800, help="per-account rolling-hour call limit")
    parser.add_argument("--throttle-code", type=int, choices=THROTTLE_CODES, default=80002)
    parser.add_argument("--publish-quota", type=int, default=50, help="published posts per rolling 24 h")
    parser.add_argument("--app-secret", default=None, help="for appsecret_proof (default: derived from the seed)")
    parser.add_argument("--login", choices=LOGIN_CHOICES, default="both",
                        help="Instagram Login accounts (graph.instagram.com), Facebook Login accounts "
                             "(graph.facebook.com, served under /facebook) or both, every second one Facebook")
    parser.add_argument("--facebook-app-secret", default=None,
                        help="the Facebook app's secret (fb_exchange_token, proofs; default: derived from the seed)")
    parser.add_argument("--insights-page-limit", type=int, default=50,
                        help="largest page that may expand insights.metric(..) (larger: error 1, HTTP 500)")
    parser.add_argument("--expanded-insights-weight", choices=EXPANDED_INSIGHTS_WEIGHTS, default="call",
                        help="a call expanding insights counts once (call) or once per media (media)")
    parser.add_argument("--log-level", default="warning",
                        choices=("critical", "error", "warning", "info", "debug", "trace"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = SimConfig(
            accounts=args.accounts, media_per_account=args.media_per_account, seed=args.seed,
            pre_business_share=args.pre_business_share,
            container_finish_seconds=args.container_finish_seconds, calls_per_hour=args.calls_per_hour,
            throttle_code=args.throttle_code, publish_quota=args.publish_quota, app_secret=args.app_secret,
            login=args.login, facebook_app_secret=args.facebook_app_secret,
            insights_page_limit=args.insights_page_limit, expanded_insights_weight=args.expanded_insights_weight,
        )
    except ValueError as exc:
        print(f"graph-api-sim: {exc}", file=sys.stderr)
        return 2
    app = create_app(config)
    print(f"Graph API simulator on http://{args.host}:{args.port} ({config.accounts} accounts, "
          f"{config.media_per_account} media each, seed {config.seed}, login {config.login})", flush=True)
    serve(app, args.host, args.port, args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
