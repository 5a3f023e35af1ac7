"""`python -m mlcli` runs the command line."""

from mlcli.cli.main import main

if __name__ == "__main__":
    main()
