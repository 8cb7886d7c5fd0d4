"""Run the skprune demonstration: ``python -m skprune``."""

from ._demo import main

if __name__ == "__main__":
    raise SystemExit(main())
