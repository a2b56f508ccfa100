"""`python -m supportscope` is the `supportscope` command."""

from supportscope.cli.app import main

if __name__ == "__main__":
    main()
