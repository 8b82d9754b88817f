"""`python -m muse` and the `muse` command: the CLI, with a Ctrl-C during start-up handled too."""

import sys


def run() -> None:
    """Start the CLI; an interrupt before (or after) a command's own handling exits 130 quietly."""
    try:
        from muse.cli import main

        main()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)


if __name__ == "__main__":
    run()
