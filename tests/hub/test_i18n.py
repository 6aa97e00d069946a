"""The French catalogue is complete, compiled, and covers every string marked for translation."""

import gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from integration_hub import roles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOCALE_DIR = Path(settings.BASE_DIR) / "locale"
PO_FILE = LOCALE_DIR / "fr" / "LC_MESSAGES" / "django.po"
MO_FILE = PO_FILE.with_suffix(".mo")

# The same arguments as the Makefile's `messages` target.
MAKEMESSAGES_ARGS = [
    "makemessages",
    "-l",
    "fr",
    "--ignore=.venv/*",
    "--ignore=static/*",
    "--ignore=tests/*",
    "--ignore=bench/*",
    "--ignore=var/*",
]
# Left out of the scratch copy makemessages runs in: ignored above anyway, or not source at all.
NOT_COPIED = {".venv", ".git", "var", "static", "tests", "bench", "node_modules", "test-results"}


# --- a small .po reader (no third-party dependency) -------------------------------------------------


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)
    line: int = 0

    @property
    def key(self) -> tuple[str | None, str]:
        return (self.msgctxt, self.msgid)

    def __str__(self):
        ctx = f"[{self.msgctxt}] " if self.msgctxt is not None else ""
        return f"line {self.line}: {ctx}{self.msgid!r}"


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), f"not a PO string: {text!r}"
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text[1:-1])


def read_po(path: Path) -> list[Entry]:
    """Every active entry of a .po file, the header (msgid "") included; obsolete (#~) ones are left out."""
    entries: list[Entry] = []
    entry: Entry | None = None
    target: tuple[str, int | None] | None = None

    def finish():
        nonlocal entry, target
        if entry is not None and (entry.msgstr or entry.msgid or entry.msgctxt is not None):
            entries.append(entry)
        entry, target = None, None

    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line:
            finish()
            continue
        if line.startswith("#~"):
            continue
        if line.startswith("#"):
            if entry is not None and target is not None and target[0] == "msgstr":
                finish()  # a comment after a msgstr starts the next entry
            if entry is None:
                entry = Entry(line=number)
            if line.startswith("#,"):
                entry.flags.update(flag.strip() for flag in line[2:].split(","))
            continue
        keyword, _sep, rest = line.partition(" ")
        if keyword.startswith('"'):
            assert entry is not None and target is not None, f"{path}:{number}: stray continuation line"
            name, index = target
            value = _unquote(line)
            if name == "msgstr":
                entry.msgstr[index] += value
            else:
                setattr(entry, name, (getattr(entry, name) or "") + value)
            continue
        if keyword in ("msgctxt", "msgid") and entry is not None and target and target[0] == "msgstr":
            finish()
        if entry is None:
            entry = Entry(line=number)
        match = re.fullmatch(r"msgstr\[(\d+)\]", keyword)
        if keyword == "msgstr" or match:
            index = int(match.group(1)) if match else 0
            entry.msgstr[index] = _unquote(rest)
            target = ("msgstr", index)
        elif keyword in ("msgid", "msgctxt", "msgid_plural"):
            setattr(entry, keyword, _unquote(rest))
            target = (keyword, None)
        else:
            raise AssertionError(f"{path}:{number}: unexpected line {raw!r}")
    finish()
    return entries


def split_header(entries: list[Entry]) -> tuple[dict[str, str], list[Entry]]:
    header = next((e for e in entries if e.msgid == "" and e.msgctxt is None), None)
    assert header is not None, "the catalogue has no header entry"
    fields = dict(line.split(":", 1) for line in header.msgstr.get(0, "").splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in fields.items()}, [e for e in entries if e is not header]


# --- the catalogue ----------------------------------------------------------------------------------


def test_catalogue_header_is_french():
    entries = read_po(PO_FILE)
    header, _messages = split_header(entries)
    assert header.get("Language") == "fr"
    assert "charset=UTF-8" in header.get("Content-Type", "")
    assert header.get("Plural-Forms") == "nplurals=2; plural=(n > 1);"
    assert "fuzzy" not in entries[0].flags, "the header is still marked fuzzy"


def test_every_message_is_translated_and_none_is_fuzzy():
    _header, messages = split_header(read_po(PO_FILE))
    assert messages, f"{PO_FILE} has no messages"
    fuzzy = [str(e) for e in messages if "fuzzy" in e.flags]
    untranslated = [
        str(e)
        for e in messages
        if not e.msgstr
        or any(not text.strip() for text in e.msgstr.values())
        or (e.msgid_plural is not None and sorted(e.msgstr) != [0, 1])
    ]
    assert not fuzzy, "fuzzy entries in django.po (review them, then drop the flag):\n" + "\n".join(fuzzy)
    assert not untranslated, "untranslated entries in django.po:\n" + "\n".join(untranslated)


def test_placeholders_are_kept():
    _header, messages = split_header(read_po(PO_FILE))
    placeholder = re.compile(r"%\([^)]+\)[sdrf]")
    broken = []
    for e in messages:
        for index, text in e.msgstr.items():
            source = e.msgid if index == 0 or e.msgid_plural is None else e.msgid_plural
            if sorted(placeholder.findall(source)) != sorted(placeholder.findall(text)):
                broken.append(f"{e} → {text!r}")
    assert not broken, "placeholders differ between msgid and msgstr:\n" + "\n".join(broken)


def test_compiled_catalogue_is_up_to_date(tmp_path):
    assert MO_FILE.exists(), f"{MO_FILE} is missing: run `make messages` (or manage.py compilemessages)"
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        pytest.skip("GNU gettext's msgfmt is not installed, so the .po cannot be compiled to compare")
    fresh = tmp_path / "django.mo"
    subprocess.run([msgfmt, "--check-format", "-o", str(fresh), str(PO_FILE)], check=True)
    with MO_FILE.open("rb") as fh:
        committed = gettext.GNUTranslations(fh)._catalog
    with fresh.open("rb") as fh:
        expected = gettext.GNUTranslations(fh)._catalog
    stale = sorted(str(k) for k in set(committed) ^ set(expected))
    changed = sorted(str(k) for k in set(committed) & set(expected) if committed[k] != expected[k])
    assert not stale and not changed, (
        "django.mo is out of date with django.po; run manage.py compilemessages.\n"
        f"messages only in one of them: {stale[:20]}\nmessages that differ: {changed[:20]}"
    )


def test_makemessages_finds_no_new_strings(tmp_path):
    """Run makemessages on a scratch copy of the project: every marked string is already in django.po."""
    missing_tools = [t for t in ("xgettext", "msgmerge", "msguniq", "msgattrib") if shutil.which(t) is None]
    if missing_tools:
        pytest.skip(
            f"GNU gettext is not installed ({', '.join(missing_tools)} missing): cannot run makemessages"
        )
    base = Path(settings.BASE_DIR)
    copy = tmp_path / "project"
    shutil.copytree(
        base,
        copy,
        symlinks=True,
        ignore=lambda directory, names: [
            n
            for n in names
            if (Path(directory) == base and n in NOT_COPIED)
            or n in ("__pycache__", ".pytest_cache", ".ruff_cache")
            or n.endswith(".egg-info")
        ],
    )
    # Whatever Python imports, makemessages writes only into the copy's locale folder.
    (copy / "i18n_check_settings.py").write_text(
        "from pathlib import Path\n\n"
        "from integration_hub.settings import *  # noqa: F403\n\n"
        'LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]\n'
    )
    committed_po = PO_FILE.read_bytes()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "i18n_check_settings",
        "HUB_DATA_DIR": str(tmp_path / "data"),
        "PYTHONPATH": str(copy),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", *MAKEMESSAGES_ARGS],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert PO_FILE.read_bytes() == committed_po, "makemessages wrote into the project's own catalogue"
    assert result.returncode == 0, f"makemessages failed:\n{result.stdout}\n{result.stderr}"

    _header, known = split_header(read_po(PO_FILE))
    _header, extracted = split_header(read_po(copy / "locale" / "fr" / "LC_MESSAGES" / "django.po"))
    known_keys = {e.key for e in known}
    new = [repr(e.msgid if e.msgctxt is None else e.key) for e in extracted if e.key not in known_keys]
    assert not new, (
        "strings marked for translation are missing from locale/fr/LC_MESSAGES/django.po; run "
        "`make messages`, translate them, and compile:\n" + "\n".join(new)
    )


def test_role_names_are_translated():
    with translation.override("fr"):
        assert translation.gettext(roles.INTEGRATION_ADMIN) == "Administrateur d'intégration"
        assert translation.gettext(roles.SUPPORT) == "Support"
        assert translation.gettext(roles.DPO) == "DPO"
        assert translation.gettext(roles.VIEWER) == "Lecteur"


# --- the console in French --------------------------------------------------------------------------


def test_pages_switch_to_french(client):
    response = client.post(reverse("set_language"), {"language": "fr", "next": reverse("login")})
    assert response.status_code == 302
    login_page = client.get(reverse("login")).content.decode()
    assert "Se connecter" in login_page and 'lang="fr"' in login_page

    client.force_login(UserFactory())
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert "Tableau de bord" in home.content.decode()
