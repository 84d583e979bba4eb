"""One line per problem on stderr, with secrets masked, and the exit codes the commands use.

Start-up problems name the variable and its value, and values such as DATABASE_URL carry
passwords: every line goes through `one_line`, which masks them with the project's one masking
function (`src.security.masking.mask_text`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import NoReturn

from src.security.masking import mask_text

EXIT_PROBLEM = 2  # a start-up problem: nothing was started
EXIT_FORCED = 70  # a stop took longer than promised (or a second signal): forced, see the log


def one_line(text: str) -> str:
    """`text` on one line, with the password of any URL in it masked."""
    return mask_text(" ".join(str(text).split()))


def warn(text: str) -> None:
    print(f"celery-admin: warning: {one_line(text)}", file=sys.stderr, flush=True)


def fail(problems: Iterable[str], code: int = EXIT_PROBLEM) -> NoReturn:
    """Print each problem on its own line and exit with `code`."""
    for problem in problems:
        for line in str(problem).splitlines() or [""]:
            if line.strip():
                print(f"celery-admin: {one_line(line)}", file=sys.stderr, flush=True)
    sys.exit(code)


__all__ = ["EXIT_FORCED", "EXIT_PROBLEM", "fail", "one_line", "warn"]
