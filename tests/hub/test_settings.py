"""Settings from the environment, the production checklist, and the Makefile's interpreter search."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from integration_hub.env import get_bool, get_list, read_or_create_secret

ROOT = Path(__file__).resolve().parents[2]


def run(args, env, **kwargs):
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, **kwargs)


def test_production_environment_passes_check_deploy(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "integration_hub.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_ALLOWED_HOSTS": "hub.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://hub.example.com",
        "HUB_HTTPS": "1",
        "HUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HUB_DATA_DIR": str(tmp_path),
        "EMAIL_URL": "smtp+tls://hub:pw@mail.invalid:587",
    }
    result = run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_embedded_default_creates_its_keys_once(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HUB_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "integration_hub.settings",
    }
    code = "from django.conf import settings; print(settings.HUB_ENCRYPTION_KEYS[0]); print(settings.DATABASES['default']['ENGINE'])"
    first = run([sys.executable, "-c", f"import django; django.setup(); {code}"], env)
    second = run([sys.executable, "-c", f"import django; django.setup(); {code}"], env)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    key, engine = first.stdout.split()
    Fernet(key.encode())  # a valid key
    assert engine == "django.db.backends.sqlite3"
    assert oct((tmp_path / "encryption.key").stat().st_mode)[-3:] == "600"


def test_database_and_redis_urls_switch_backends(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "HUB_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "integration_hub.settings",
        "DATABASE_URL": "postgres://hub@db.invalid:5432/hub",
        "REDIS_URL": "redis://cache.invalid:6379/0",
    }
    code = (
        "from django.conf import settings as s; "
        "print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['TEST']['NAME'], "
        "s.CHANNEL_LAYERS['default']['BACKEND'], s.Q_CLUSTER.get('redis'), 'channels' in s.DATABASES)"
    )
    result = run([sys.executable, "-c", f"import django; django.setup(); {code}"], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "test_hub",
        "channels_redis.core.RedisChannelLayer",
        "redis://cache.invalid:6379/0",
        "False",
    ]


def test_boolean_settings_refuse_nonsense(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ValueError, match="X_FLAG='maybe' is not a boolean"):
        get_bool("X_FLAG")
    monkeypatch.setenv("X_FLAG", "Yes")
    assert get_bool("X_FLAG") is True
    monkeypatch.setenv("X_LIST", " a, ,b ")
    assert get_list("X_LIST") == ["a", "b"]


def test_secret_file_race_keeps_one_value(tmp_path):
    path = tmp_path / "k"
    values = iter(["first", "second"])
    assert read_or_create_secret(path, lambda: next(values)) == "first"
    assert read_or_create_secret(path, lambda: next(values)) == "first"


def _fake_python(path: Path, version: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    major, minor = version.split(".")
    path.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "-c" ]; then exec {sys.executable} -c "import sys; sys.version_info = ({major}, {minor}, 0); exec(sys.argv[1])" "$2"; fi\n'
    )
    path.chmod(0o755)


def test_find_python_prefers_path_then_pyenv(tmp_path):
    script = ROOT / "scripts" / "find-python.sh"
    bin_dir, pyenv = tmp_path / "bin", tmp_path / "pyenv"
    _fake_python(bin_dir / "python3", "3.11")
    _fake_python(pyenv / "versions" / "3.12.1" / "bin" / "python3", "3.12")
    _fake_python(pyenv / "versions" / "3.13.0" / "bin" / "python3", "3.13")
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYENV_ROOT": str(pyenv), "HOME": str(tmp_path)}
    env["PATH"] = f"{bin_dir}:/bin"  # no system python3 beyond ours
    result = run(["sh", str(script)], env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(pyenv / "versions" / "3.13.0" / "bin" / "python3")

    _fake_python(bin_dir / "python3.12", "3.12")
    result = run(["sh", str(script)], env)
    assert result.stdout.strip() == str(bin_dir / "python3.12")


def test_find_python_fails_clearly_without_312(tmp_path):
    bin_dir = tmp_path / "bin"
    _fake_python(bin_dir / "python3", "3.11")
    env = {"PATH": f"{bin_dir}:/bin", "PYENV_ROOT": str(tmp_path / "none"), "HOME": str(tmp_path)}
    result = run(["sh", str(ROOT / "scripts" / "find-python.sh")], env)
    assert result.returncode == 1
    assert "needs Python 3.12 or newer" in result.stderr
