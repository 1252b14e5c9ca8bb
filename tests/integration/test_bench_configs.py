"""The benchmark's configs load. CI builds bench/'s tools but does not run
bench/run.sh (it takes minutes and measures, never asserts), so a change
to the example city that bench/lib.sh does not follow would go unseen
until the next benchmark: the city's lookup tables once did. This writes
the configs as bench/run.sh does and checks each with `citygate check`."""

import os
import shutil
import subprocess
import tempfile
import unittest

CITYGATE = os.environ.get("CITYGATE", "citygate")
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

WRITE = r'''
set -e
. "$1/bench/lib.sh"  # sets its own globals: ours come after
root=$1 work=$2 port=1883 cg=$3
write_one "$work/one" 1 ./spool
write_city "$work/city" 1
for f in one city; do "$cg" check -c "$work/$f/citygate.yaml"; done
'''


class BenchConfigTest(unittest.TestCase):
    def test_bench_configs_load(self):
        work = tempfile.mkdtemp(prefix="cg-bench-cfg-")
        try:
            p = subprocess.run(["bash", "-c", WRITE, "write", ROOT, work,
                                CITYGATE], capture_output=True, text=True,
                               timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertEqual(p.stdout.count(": OK"), 2, p.stdout)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
