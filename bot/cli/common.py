"""What every `cleanbot` command module shares: printing a result (text or `--json`), failing with a
message, and `add`, the helper that registers one sub-command (each module's `register(sub, add)` gets it)."""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, is_dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable


def _jsonable(value: Any) -> Any:
    if is_dataclass(value):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


def emit(args: argparse.Namespace, value: Any, text: Callable[[Any], str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(_jsonable(value), ensure_ascii=False, indent=2))
    else:
        print(text(value))


def fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def add(parent, name: str, func, help_text: str, json_flag: bool = True) -> argparse.ArgumentParser:
    """One sub-command `name` under `parent` (a subparsers object) that runs `func(args)`; `--json` unless
    `json_flag` is false."""
    p = parent.add_parser(name, help=help_text)
    p.set_defaults(func=func)
    if json_flag:
        p.add_argument("--json", action="store_true", help="JSON으로 출력")
    return p


def subcommands(sub, name: str, help_text: str, dest: str):
    """The sub-commands of `name`, made here or reused if another module made them (`shopper` is shared)."""
    parser = sub.choices.get(name)
    if parser is None:
        return sub.add_parser(name, help=help_text).add_subparsers(dest=dest, required=True)
    return next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
