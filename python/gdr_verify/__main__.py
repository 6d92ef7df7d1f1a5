"""python -m gdr_verify: the gdr tool's verbs with Python subjects ('module:function')."""
import sys

from ._harness import main

sys.exit(main())
