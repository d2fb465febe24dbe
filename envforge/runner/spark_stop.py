"""Run in the model's env, by run_model.py: stop the JVM a Spark model's loader started, before the runner exits.

pyspark starts its JVM (spark-submit, then `java`) as a child of the runner and leaves it running until the
Python process is gone: the JVM notices its closed stdin and exits a moment later. In the sandbox that moment
is after the runner's end, where whatever still runs is a process the model left behind (killed, and the
verdict says so): on a loaded machine a real Spark model failed that way. So: stop the SparkContext, close the
JVM's stdin and wait for it (killed after `timeout`). Nothing happens unless the model imported pyspark.
Standard library only, like the runner.
"""

import sys


def stop(timeout=60.0):
    context = sys.modules.get("pyspark.context")
    spark = getattr(context, "SparkContext", None)
    if spark is None:
        return
    gateway = getattr(spark, "_gateway", None)
    proc = getattr(gateway, "proc", None)
    try:
        active = getattr(spark, "_active_spark_context", None)
        if active is not None:
            active.stop()
        if gateway is not None:
            gateway.shutdown()
    except Exception:  # a half-started context: the JVM is still waited for below
        pass
    if proc is None:
        return
    try:
        if proc.stdin is not None:
            proc.stdin.close()  # pyspark's JVM exits when its stdin closes
        proc.wait(timeout=timeout)
    except Exception:
        proc.kill()
        proc.wait(timeout=10)
