"""The one regular-expression engine for patterns admins type (transforms and quality rules): RE2.

RE2 matches in time linear in the text whatever the pattern, so ``(a+)+$`` costs the same as ``a+``;
Python's ``re`` can take hours on such a pattern, and ``regex`` with a timeout would only bound the
damage (each record of a run spending the whole timeout, and matches depending on the machine's load).
The price is RE2's syntax: no back-references nor look-arounds, refused with RE2's own reason when the
pattern is saved; a pattern whose automaton needs more than ``max_mem`` is refused then too.
"""

from functools import lru_cache

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a bad pattern is reported to the admin, not logged to stderr
_OPTIONS.max_mem = 8 << 20

PatternError = re2.error


@lru_cache(maxsize=512)
def compile_pattern(pattern: str, ignore_case: bool = False):
    """``pattern`` compiled by RE2 (raises ``PatternError`` with RE2's reason)."""
    return re2.compile(f"(?i){pattern}" if ignore_case else pattern, _OPTIONS)
