from pathlib import Path

import pytest

from translator.server.settings import ServerConfig


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
