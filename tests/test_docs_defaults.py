"""docs/reference.md's table of the service's settings, read against grader/store/settings.py."""

import os
import re
from pathlib import Path

from grader.store import settings as settings_module
from grader.store.settings import MIB, Settings

ROOT = Path(__file__).resolve().parent.parent
UNITS = {"": 1, "MiB": MIB, "s": 1}


def documented_defaults():
    """{variable: its default cell} from the configuration table."""
    text = (ROOT / "docs/reference.md").read_text()
    return dict(re.findall(r"^\| `(CONVGRADE_\w+)` \|.*\|([^|]*)\|$", text, re.MULTILINE))


def read_settings():
    """{variable: the Settings field it sets}, from Settings.from_env's source."""
    source = Path(settings_module.__file__).read_text()
    return dict((var, field) for field, var in re.findall(r'"(\w+)": [^\n]*env\.get\("(CONVGRADE_\w+)"', source))


def test_every_setting_is_documented_with_the_default_it_has(tmp_path):
    documented, fields = documented_defaults(), read_settings()
    assert fields and set(fields) <= set(documented), set(fields) - set(documented)
    data = tmp_path / "data"
    defaults = Settings.from_env({"CONVGRADE_DATA_DIR": str(data)}).prepare()
    for var, field in fields.items():
        cell, value = documented[var].strip(), getattr(defaults, field)
        number = re.fullmatch(r"(\d+(?:\.\d+)?) ?(MiB|s)?", cell)
        if number:
            assert value == float(number.group(1)) * UNITS[number.group(2) or ""], (var, cell, value)
        elif var == "CONVGRADE_DATA_DIR":
            path = re.fullmatch(r"`(.+)`", cell).group(1)
            assert Settings.from_env({}).data_dir == Path(path).resolve(), cell
        elif var == "CONVGRADE_ADMIN_TOKEN":
            assert "`<data dir>/admin_token`" in cell and value == (data / "admin_token").read_text().strip(), cell
        elif var == "CONVGRADE_DATABASE_URL":
            assert cell == "SQLite in the data dir" and value == f"sqlite:///{data.resolve() / 'convgrade.sqlite3'}"
        elif var == "CONVGRADE_WORKERS":
            assert cell == "one per core" and value == len(os.sched_getaffinity(0))
        else:
            assert cell == "empty" and value == "", (var, cell, value)
