"""``python -m labelsphere.cli``."""

from labelsphere.cli import main

main()
