#!/usr/bin/env sh
# Print the newest Python >= 3.12 found on PATH, then in pyenv's versions; fail loudly when there is none.
# Django 6 needs Python 3.12+, and on some machines `python3` is older.
ok() { "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; }
best=""; best_ver=""
consider() {
  [ -x "$1" ] || return 0
  ok "$1" || return 0
  ver=$("$1" -c 'import sys; print("%d%03d" % sys.version_info[:2])' 2>/dev/null) || return 0
  if [ -z "$best_ver" ] || [ "$ver" -gt "$best_ver" ]; then best="$1"; best_ver="$ver"; fi
}
for name in python3.14 python3.13 python3.12 python3 python; do
  p=$(command -v "$name" 2>/dev/null) && consider "$p"
done
if [ -z "$best" ]; then
  root=${PYENV_ROOT:-$HOME/.pyenv}
  for p in "$root"/versions/3.*/bin/python3; do consider "$p"; done
fi
if [ -z "$best" ]; then
  echo "error: Integration Hub needs Python 3.12 or newer (Django 6). None was found on PATH" >&2
  echo "       or in pyenv's versions (${PYENV_ROOT:-$HOME/.pyenv}/versions). Install one, e.g. 'pyenv install 3.13'." >&2
  exit 1
fi
echo "$best"
