"""Where mia keeps things: MIA_HOME (registry, workspace, logs) and the config directory."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP = "mia"


def default_home() -> Path:
    """MIA_HOME if set, else the platform's user data dir."""
    env = os.environ.get("MIA_HOME")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP))


def config_dir() -> Path:
    """The directory holding config.toml and secrets.toml."""
    env = os.environ.get("MIA_CONFIG")
    if env:
        return Path(env).expanduser().parent
    return Path(platformdirs.user_config_dir(APP))


def config_file() -> Path:
    """config.toml (or $MIA_CONFIG)."""
    env = os.environ.get("MIA_CONFIG")
    if env:
        return Path(env).expanduser()
    return config_dir() / "config.toml"


def secrets_file() -> Path:
    """secrets.toml beside the config file (or $MIA_SECRETS)."""
    env = os.environ.get("MIA_SECRETS")
    if env:
        return Path(env).expanduser()
    return config_dir() / "secrets.toml"


def registry_path(home: Path) -> Path:
    return home / "registry.db"


def workspace_root(home: Path) -> Path:
    return home / "workspace"


def logs_dir(home: Path) -> Path:
    return home / "logs"
