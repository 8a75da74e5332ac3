"""``python -m zenbench.cli``."""

from zenbench.cli.app import main

main()
