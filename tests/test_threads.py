"""raretune._threads: TensorFlow's pools sized once, before its runtime starts; the env override."""

import json
import os
import subprocess
import sys

import pytest

from raretune import ConfigError
from raretune._threads import cores, size_tensorflow_pools, tensorflow_threads

# In a fresh process: size the pools, read back what TensorFlow reports, start the runtime,
# then ask for other sizes (TensorFlow refuses them; raretune must not raise).
_CHILD = """
import json, os
from raretune._threads import size_tensorflow_pools
import tensorflow as tf
first = size_tensorflow_pools()
reported = [tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads()]
tf.constant(1.0) + 1.0  # the runtime starts: the pools are fixed from here on
again = size_tensorflow_pools()
os.environ["RARETUNE_THREADS"] = "7"
late = size_tensorflow_pools()
print(json.dumps({"first": list(first), "reported": reported, "again": list(again), "late": list(late)}))
"""


def _child(threads):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("RARETUNE_THREADS", None)
    if threads is not None:
        env["RARETUNE_THREADS"] = threads
    out = subprocess.run([sys.executable, "-c", _CHILD], capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_override_sets_the_sizes_tensorflow_reports_and_a_late_call_changes_nothing():
    result = _child("3")
    assert result["first"] == [3, 2, True]
    assert result["reported"] == [3, 2]
    assert result["again"] == [3, 2, True]  # the same sizes after start-up are accepted
    assert result["late"] == [3, 2, False]  # 7 refused by TensorFlow: reported, not raised


def test_without_the_override_the_intra_op_pool_has_one_thread_per_core():
    assert _child(None)["reported"] == [cores(), min(2, cores())]


def test_zero_leaves_tensorflow_s_own_sizes():
    import tensorflow as tf

    before = (tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads())
    assert tuple(size_tensorflow_pools({"RARETUNE_THREADS": "0"})) == (*before, False)


@pytest.mark.parametrize("value", ["-1", "two", "1.5"])
def test_a_bad_override_is_a_config_error_naming_the_variable(value):
    with pytest.raises(ConfigError, match=f"RARETUNE_THREADS.*Got '{value}'"):
        tensorflow_threads({"RARETUNE_THREADS": value})


def test_one_thread_leaves_one_inter_op_thread():
    assert tensorflow_threads({"RARETUNE_THREADS": "1"}) == (1, 1)
    assert tensorflow_threads({}) == (cores(), min(2, cores()))
