"""raretune leaves Keras Tuner as it found it: no module-wide replacement, no global flag.

Its crash-safe state writes, quiet failed trials and quiet gRPC messages all live in
raretune's own subclasses.
"""

import json
from pathlib import Path

import pytest
from keras_tuner.src import config as kt_config
from keras_tuner.src import utils as kt_utils
from keras_tuner.src.engine import conditions

from raretune.datasets import load_data, stratified_split
from raretune.metrics import get_objective

from tests.conftest import make_frame

_ORIGINAL_SAVE_JSON = kt_utils.save_json
_ORIGINAL_TO_PROTO = conditions.Parent.__dict__["to_proto"]
_ORIGINAL_DEBUG = kt_config.DEBUG


@pytest.fixture(scope="module")
def split():
    return stratified_split(load_data(make_frame(n=300, seed=3), target="label"), random_state=0)


def _hypermodel(split, seen_debug, fail=False):
    from raretune.models import FeatureSchema
    from raretune.tuning import TabularHyperModel

    class Recording(TabularHyperModel):
        def fit(self, hp, model, *args, **kwargs):
            seen_debug.append(kt_config.DEBUG)  # what Keras Tuner's flag reads during a trial
            if fail:
                raise ValueError("no model today")
            return super().fit(hp, model, *args, **kwargs)

    return Recording(FeatureSchema.from_data(split.train), strategies=["none", "class_weight"], random_state=0)


def test_a_search_changes_nothing_in_keras_tuner(split, tmp_path, monkeypatch):
    import raretune
    import raretune.tuning
    import raretune.tuning.distributed
    from raretune.tuning import _tuner, make_tuner

    assert raretune.tuning.distributed and raretune.__name__  # imported: importing must change nothing
    kt_writes, raretune_writes = [], []
    monkeypatch.setattr(kt_utils, "save_json", lambda path, obj: kt_writes.append(str(path)) or "")
    monkeypatch.setattr(_tuner, "write_text", lambda path, text: raretune_writes.append(str(path)))
    seen_debug = []
    tuner = make_tuner("random", _hypermodel(split, seen_debug), get_objective("pr_auc"), max_trials=1,
                       max_epochs=1, directory=tmp_path, seed=0)
    tuner.search(train=split.train, validation=split.validation, epochs=1, verbose=0)
    assert [t.status for t in tuner.oracle.trials.values()] == ["COMPLETED"]
    # every state file went through raretune's crash-safe writer; Keras Tuner wrote only the
    # build configuration, which a crash cannot leave behind for a finished trial
    names = {f"{Path(p).parent.name}/{Path(p).name}" for p in raretune_writes}
    assert {"tuner/oracle.json", "tuner/tuner0.json", "trial_0/trial.json"} <= names, names
    assert all(p.endswith("build_config.json") for p in kt_writes), kt_writes
    monkeypatch.undo()
    assert seen_debug == [_ORIGINAL_DEBUG]
    assert kt_utils.save_json is _ORIGINAL_SAVE_JSON and _ORIGINAL_SAVE_JSON.__module__ == "keras_tuner.src.utils"
    assert conditions.Parent.__dict__["to_proto"] is _ORIGINAL_TO_PROTO
    assert _ORIGINAL_TO_PROTO.__module__ == "keras_tuner.src.engine.conditions"
    assert kt_config.DEBUG is _ORIGINAL_DEBUG


def test_state_files_are_whole_json(split, tmp_path):
    from raretune.tuning import make_tuner

    tuner = make_tuner("hyperband", _hypermodel(split, []), get_objective("pr_auc"), max_trials=2,
                       max_epochs=1, directory=tmp_path, seed=0)
    tuner.search(train=split.train, validation=split.validation, epochs=1, verbose=0)
    project = tmp_path / "tuner"
    assert json.loads((project / "oracle.json").read_text())["end_order"] == sorted(tuner.oracle.trials)
    for trial_id in tuner.oracle.trials:
        assert json.loads((project / f"trial_{trial_id}" / "trial.json").read_text())["status"] == "COMPLETED"
    assert not [p.name for p in project.rglob(".*.tmp")]  # no temporary file left behind


def test_failed_trial_prints_its_traceback_only_when_verbose(split, tmp_path, capsys):
    from raretune.tuning import make_tuner

    for verbose in (False, True):
        seen_debug = []
        hm = _hypermodel(split, seen_debug, fail=True)
        tuner = make_tuner("random", hm, get_objective("pr_auc"), max_trials=1, max_epochs=1,
                           directory=tmp_path / str(verbose), seed=0, verbose=verbose)
        capsys.readouterr()
        tuner.search(train=split.train, validation=split.validation, epochs=1, verbose=0)
        trial = next(iter(tuner.oracle.trials.values()))
        assert trial.status in ("FAILED", "INVALID") and "no model today" in trial.message
        err = capsys.readouterr().err
        assert ("no model today" in err) is verbose
        assert seen_debug == [_ORIGINAL_DEBUG]
    assert kt_config.DEBUG is _ORIGINAL_DEBUG


def test_trials_cross_the_wire_without_keras_tuner_print(capsys):
    import keras_tuner as kt
    from keras_tuner.src.engine import trial as trial_module

    from raretune.tuning.distributed._protos import space_to_proto, trial_to_proto

    hp = kt.HyperParameters()
    hp.Choice("strategy", ["none", "class_weight"])
    with hp.conditional_scope("strategy", ["class_weight"]):
        hp.Float("weight", 1.0, 10.0)
    trial = trial_module.Trial(hp, trial_id="7", status="RUNNING")
    trial.to_proto()
    assert capsys.readouterr().out.strip() == "class_weight"  # Keras Tuner's own stray print
    proto = trial_to_proto(trial)
    space = space_to_proto(hp)
    assert capsys.readouterr().out == ""
    # the message is Keras Tuner's own, and decodes into its plain classes
    assert proto == trial.to_proto() and space == hp.to_proto()
    back = trial_module.Trial.from_proto(proto)
    assert back.trial_id == "7" and back.hyperparameters.values == hp.values
    assert [type(c) for h in back.hyperparameters.space for c in h.conditions] == [conditions.Parent]
    assert [type(c) for h in hp.space for c in h.conditions] == [conditions.Parent]  # the original is untouched
