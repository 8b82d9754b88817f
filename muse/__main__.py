"""`python -m muse` and the `muse` command: the CLI, with a Ctrl-C during start-up handled too."""

import sys

from muse.startup import hold_collector, release_collector


def run() -> None:
    """Start the CLI; an interrupt before (or after) a command's own handling exits 130 quietly."""
    hold_collector()
    try:
        from muse.cli import main

        main()
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    finally:
        release_collector()  # --help, --version, a usage error: no command was loaded


if __name__ == "__main__":
    run()
