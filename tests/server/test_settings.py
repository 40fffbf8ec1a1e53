"""Server settings: declared once (``translator.server.settings``), read from the environment and from
``translator serve``'s flags (defaults < environment < flags), and documented in the README's tables
exactly as declared."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port
from translator.server.settings import SETTINGS, ServerConfig, Setting, env_value


def test_defaults() -> None:
    config = ServerConfig.from_env({})
    assert (config.host, config.port, config.device, config.cache_size) == ("127.0.0.1", 8000, "auto", 10_000)
    assert config.models is None


def test_environment_then_flags() -> None:
    env = {"TRANSLATOR_PORT": "9000", "TRANSLATOR_MODELS": "/m", "TRANSLATOR_DEVICE": "cpu", "TRANSLATOR_HOST": ""}
    config = ServerConfig.from_env(env)
    assert (config.port, config.models, config.device, config.host) == (9000, Path("/m"), "cpu", "127.0.0.1")
    config = ServerConfig.from_env(env, port=9100, device=None)
    assert (config.port, config.device) == (9100, "cpu")


def test_bad_integer_names_the_variable() -> None:
    with pytest.raises(ValueError, match="TRANSLATOR_CACHE_SIZE"):
        ServerConfig.from_env({"TRANSLATOR_CACHE_SIZE": "lots"})


def test_allowed_origins_from_the_environment() -> None:
    config = ServerConfig.from_env({"TRANSLATOR_ALLOWED_ORIGINS": "https://a.example, https://b.example,"})
    assert config.allowed_origins == ("https://a.example", "https://b.example")
    assert ServerConfig.from_env({}).allowed_origins == ()


def test_bad_number_names_the_variable() -> None:
    with pytest.raises(ValueError, match=r"TRANSLATOR_PORT must be an integer, not 'x'"):
        ServerConfig.from_env({"TRANSLATOR_PORT": "x"})
    with pytest.raises(ValueError, match=r"TRANSLATOR_REDIS_TTL must be a number, not 'a week'"):
        ServerConfig.from_env({"TRANSLATOR_REDIS_TTL": "a week"})


BY_FLAG = {s.flag: s for s in SETTINGS if s.flag}
BY_ENV = {s.env: s for s in SETTINGS}


def parse(*argv: str) -> argparse.Namespace:
    from translator.cli.main import build_parser

    return build_parser().parse_args(list(argv))


def serve_parser() -> argparse.ArgumentParser:
    from translator.cli.main import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    parser = sub.choices["serve"]
    assert isinstance(parser, argparse.ArgumentParser)
    return parser


def test_every_field_is_a_setting_with_its_default() -> None:
    config = ServerConfig()
    assert [s.name for s in SETTINGS] == list(ServerConfig.__dataclass_fields__)
    assert all(getattr(config, s.name) == s.default for s in SETTINGS)
    assert ServerConfig.from_env({}) == config
    assert ServerConfig.from_args(parse("serve"), {}) == config


def test_serve_help_lists_each_flag_with_its_variable_and_default() -> None:
    actions = [a for a in serve_parser()._actions if a.dest != "help"]
    assert [a.option_strings for a in actions] == [[s.flag] for s in SETTINGS if s.flag]
    for action in actions:
        s = BY_FLAG[action.option_strings[0]]
        assert action.dest == s.name and action.default is None
        assert action.choices == s.choices
        help_text = (action.help or "").replace("%%", "%")
        assert help_text.startswith(s.help) and s.env in help_text and f"default {s.shown})" in help_text


def env_sample(s: Setting) -> tuple[str, object]:
    """A value for the setting's environment variable, and what it parses to."""
    if s.kind is tuple:
        return " a.example, b.example,", ("a.example", "b.example")
    if s.kind is bool:
        return "yes", True
    if s.choices is not None:
        choice = next(c for c in s.choices if c != s.default)
        return choice, choice
    if s.kind is int:
        return "7", 7
    if s.kind is float:
        return "2.5", 2.5
    if s.kind is Path:
        return "/from/env", Path("/from/env")
    raw = "redis://env:6379/0" if s.name == "redis_url" else "from-env"
    return raw, raw


def flag_sample(s: Setting) -> tuple[list[str], object]:
    """Arguments giving the setting's flag a value other than env_sample's, and that value."""
    assert s.flag is not None
    if s.kind is tuple:
        return [s.flag, "c.example", s.flag, "d.example"], ("c.example", "d.example")
    if s.kind is bool:
        return [s.flag], True
    if s.choices is not None:
        choice = [c for c in s.choices if c != s.default][-1]
        return [s.flag, choice], choice
    if s.kind is int:
        return [s.flag, "9"], 9
    if s.kind is float:
        return [s.flag, "4.5"], 4.5
    if s.kind is Path:
        return [s.flag, "/from/flag"], Path("/from/flag")
    value = "redis://flag:6379/0" if s.name == "redis_url" else "from-flag"
    return [s.flag, value], value


@pytest.mark.parametrize("s", SETTINGS, ids=[s.name for s in SETTINGS])
def test_each_variable_is_honoured_and_its_flag_wins(s: Setting) -> None:
    raw, from_env = env_sample(s)
    assert from_env != s.default
    assert getattr(ServerConfig.from_env({s.env: raw}), s.name) == from_env
    assert getattr(ServerConfig.from_env({s.env: ""}), s.name) == s.default  # empty: unset
    if s.flag is None:
        return
    assert getattr(ServerConfig.from_args(parse("serve"), {s.env: raw}), s.name) == from_env
    argv, from_flag = flag_sample(s)
    assert from_flag not in (from_env, s.default)
    assert getattr(ServerConfig.from_args(parse("serve", *argv), {s.env: raw}), s.name) == from_flag
    assert getattr(ServerConfig.from_args(parse("serve", *argv), {}), s.name) == from_flag


def test_serve_builds_its_config_from_flags_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from translator.cli import serve
    from translator.cli.main import main

    seen: list[ServerConfig] = []
    monkeypatch.setattr(serve, "run_server", seen.append)
    monkeypatch.setenv("TRANSLATOR_PORT", "9000")
    monkeypatch.setenv("TRANSLATOR_HOST", "0.0.0.0")
    monkeypatch.setenv("TRANSLATOR_ALLOWED_ORIGINS", "https://env.example")
    assert main(["serve", "--port", "9100", "--allowed-origin", "https://a.example", "--log-level", "warning"]) == 0
    config = seen[0]
    assert (config.port, config.host, config.allowed_origins) == (9100, "0.0.0.0", ("https://a.example",))
    monkeypatch.setenv("TRANSLATOR_MAX_BATCH", "many")
    assert main(["serve"]) == 2 and len(seen) == 1


def test_the_command_line_reads_the_environment_one_way(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_value("PORT", {"TRANSLATOR_PORT": "9000"}) == "9000"
    assert env_value("PORT", {"TRANSLATOR_PORT": ""}) is None and env_value("PORT", {}) is None
    monkeypatch.setenv("TRANSLATOR_DEVICE", "cpu")
    monkeypatch.setenv("TRANSLATOR_COMPUTE_TYPE", "float32")
    monkeypatch.setenv("TRANSLATOR_INTER_THREADS", "3")
    monkeypatch.setenv("TRANSLATOR_INTRA_THREADS", "")
    args = parse("translate", "-s", "en", "-t", "de")
    assert (args.device, args.compute_type, args.inter_threads, args.intra_threads) == ("cpu", "float32", 3, 1)


def test_healthcheck_finds_the_port_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from translator.cli.main import main

    port = free_port()  # nothing listens there
    monkeypatch.setenv("TRANSLATOR_PORT", str(port))
    assert main(["healthcheck", "--timeout", "2"]) == 1
    assert f"http://127.0.0.1:{port}/readyz" in capsys.readouterr().err


# The README's tables: | flag | environment | default | description |, in these sections.
README_SECTIONS = ("## Configuration", "## Limits and security")


def readme_rows() -> list[list[str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = []
    for heading in README_SECTIONS:
        assert f"\n{heading}\n" in text, f"README has no {heading!r} section"
        section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
        for line in section.splitlines():
            if not line.startswith("|") or set(line) <= set("|-: "):
                continue
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if cells[:3] == ["flag", "environment", "default"]:
                continue
            assert len(cells) == 4, f"README row without 4 cells: {line}"
            rows.append(cells)
    return rows


def shown(cell: str) -> str:
    """A default cell as the help shows it: no code marks, no trailing remark in parentheses."""
    return re.sub(r"\s*\([^()]*\)$", "", cell.replace("`", ""))


def test_readme_tables_are_in_step_with_the_declaration() -> None:
    rows = readme_rows()
    assert rows
    documented: dict[str, str] = {}  # environment variable -> README row
    flags: set[str] = set()
    for flag_cell, env_cell, default_cell, _ in rows:
        row = f"| {flag_cell} | {env_cell} | {default_cell} |"
        row_flags = re.findall(r"`(--[a-z][a-z-]*)`", flag_cell)
        envs = re.findall(r"`(TRANSLATOR_[A-Z0-9_]+)`", env_cell)
        assert len(row_flags) <= 1 and envs, f"README row names no setting: {row}"
        assert all(f in BY_FLAG for f in row_flags), f"README names a flag translator serve lacks: {row}"
        assert all(e in BY_ENV for e in envs), f"README names a variable no setting reads: {row}"
        s = BY_FLAG[row_flags[0]] if row_flags else BY_ENV[envs[0]]
        assert envs[0] == s.env, f"{s.flag} is set by {s.env}: {row}"
        assert s.flag is None or row_flags, f"{s.env} is also the flag {s.flag}: {row}"
        assert shown(default_cell) == s.shown, f"{s.name} defaults to {s.shown}: {row}"
        assert s.kind is not tuple or s.flag is None or "(repeatable)" in flag_cell, row
        for extra in envs[1:]:
            assert BY_ENV[extra].flag is None, f"{extra} has a flag of its own: {row}"
        for env in envs:
            assert BY_ENV[env].kind is not tuple or "comma-separated" in env_cell, row
            assert env not in documented, f"{env} in two README rows: {documented[env]} and {row}"
            documented[env] = row
        flags.update(row_flags)
    assert flags == set(BY_FLAG), f"flags missing from the README: {sorted(set(BY_FLAG) - flags)}"
    assert set(documented) == set(BY_ENV), f"variables missing from the README: {sorted(set(BY_ENV) - set(documented))}"
