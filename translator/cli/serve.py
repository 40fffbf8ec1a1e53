"""``translator serve``: run the streaming WebSocket and REST server."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from translator.cli.common import EXIT_USAGE, CLIError
from translator.server.run import run as run_server
from translator.server.settings import ServerConfig, add_arguments


def add_serve_parser(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the streaming WebSocket and REST server")
    add_arguments(p)  # one flag per setting of ServerConfig (translator.server.settings)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    try:
        config = ServerConfig.from_args(args)
    except ValueError as exc:
        raise CLIError(str(exc), EXIT_USAGE) from exc
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_server(config)
    return 0
