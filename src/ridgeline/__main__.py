"""``python -m ridgeline`` and the console script."""

import sys


def run() -> None:
    from ridgeline.cli import main

    sys.exit(main())


if __name__ == "__main__":
    run()
