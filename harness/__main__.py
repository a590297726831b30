import sys

try:
    from harness.cli import main
except ModuleNotFoundError as exc:  # a Python without the dependencies: say where they are, in one line
    sys.exit(f"harness: {exc}: this Python lacks tf-parity's dependencies; run it inside the environment "
             "`make setup` creates: `. .venv/bin/activate` first, or `.venv/bin/python -m harness`")

sys.exit(main())
