"""The README's configuration reference names every option the server accepts."""

from __future__ import annotations

import re
from pathlib import Path

from notary.settings import OPTIONS

README = Path(__file__).resolve().parents[2] / "README.md"


def documented_keys() -> set[str]:
    keys: set[str] = set()
    for cell in re.findall(r"^\| ([^|]+) \|", README.read_text(), re.M):
        names = re.findall(r"`([a-z0-9_.]+)`", cell)
        if not names:
            continue
        section = names[0].rsplit(".", 1)[0]
        keys.add(names[0])
        keys.update(section + name if name.startswith(".") else name for name in names[1:])
    return keys


def test_every_option_is_in_the_configuration_reference() -> None:
    missing = sorted(option.key for option in OPTIONS if option.key not in documented_keys())
    assert not missing, f"README.md's configuration table lacks: {missing}"
