"""pyspark: a local SparkSession, its DataFrames, and the rows an action brought back.

A session is a handle on a JVM and its DataFrames are query plans inside it: neither can be
stored. Nor can they be re-made by the restore: the cell that starts the session runs
``spark-submit`` (a subprocess), makes and removes temporary directories and connects to the
JVM, and the kernel does not re-run cells with side effects (createDataFrame from Python rows
also writes a temporary file, and an action opens a new local socket). So the checkpoint names
them as lost with that reason and the restore fails naming them, never restoring a wrong value;
the rows an action returned are plain values and are stored.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.coverage.harness import Scenario

# Local mode on the loopback interface only; no UI server, one partition (small and quick).
SESSION = (
    "import os\n"
    "os.environ['SPARK_LOCAL_IP'] = '127.0.0.1'\n"
    "from pyspark.sql import SparkSession, functions as F\n"
    "spark = (SparkSession.builder.master('local[1]').appName('coverage')"
    ".config('spark.ui.enabled', 'false').config('spark.driver.host', '127.0.0.1')"
    ".config('spark.driver.bindAddress', '127.0.0.1')"
    ".config('spark.sql.shuffle.partitions', '1').getOrCreate())\n"
    "spark.sparkContext.setLogLevel('ERROR')"
)

FRAMES = (
    "nums = spark.range(1, 7)\n"
    "squares = nums.withColumn('sq', F.col('id') * F.col('id'))\n"
    "totals = squares.groupBy((F.col('id') % 3).alias('k')).agg(F.sum('sq').alias('s'))\n"
    "people = spark.createDataFrame([(1, 'ann', 31), (2, 'bob', 42)], ['id', 'name', 'age'])\n"
    "adults = people.filter(F.col('age') > 30).select('name', 'age')"
)

ACTIONS = "rows = sorted(totals.collect())\nfirst = rows[0]\nschema = people.schema\nsize = adults.count()"

SCENARIO = Scenario(
    library="pyspark",
    requires=("pyspark",),
    cells=(SESSION, FRAMES, ACTIONS),
    # The schema is the frame's own cached object, so it is linked to the frame and goes with it.
    lost={
        name: "side effects"
        for name in ("spark", "nums", "squares", "totals", "people", "adults", "schema")
    },
)


@pytest.mark.coverage
@pytest.mark.slow
# A JVM start-up on a busy 2-core machine.
@pytest.mark.timeout(600)
@pytest.mark.skipif(shutil.which("java") is None, reason="pyspark needs a Java runtime")
def test_spark(check_scenario: Any) -> None:
    check_scenario(SCENARIO)
