"""``python -m pipeline.simulator``: run the Tango simulator on a loopback port (see server.py)."""

from pipeline.simulator.server import main

raise SystemExit(main())
