"""``python -m mltrail`` runs the ``mltrail`` command."""

from mltrail.cli.main import main

if __name__ == "__main__":
    main()
