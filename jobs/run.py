"""spark-submit entry point: ``spark-submit jobs/run.py SOURCE --input ... --lake ... [--env ENV]``.

Takes the same arguments as ``visionlake run`` and behaves the same way (including the exit status).
"""

import sys

from visionlake.cli import entry_point

if __name__ == "__main__":
    sys.argv = [sys.argv[0], "run", *sys.argv[1:]]
    entry_point()
