"""``python -m labelsphere``: the command line, also what ``torchrun -m labelsphere`` starts."""

from labelsphere.cli import main

if __name__ == "__main__":
    main()
