"""`python -m bot.cli …`: the same as `cleanbot …`."""
import sys

from bot.cli import main

sys.exit(main())
