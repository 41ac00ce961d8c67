"""One function per command: each reads its arguments, calls the Python API and prints."""

from __future__ import annotations

import sys
from pathlib import Path

from ._config_file import run_config
from ._quiet import quiet_libraries

__all__ = ["COMMANDS", "cmd_remedies", "cmd_run"]


def cmd_run(args, argv) -> int:
    from ..run import run

    config = run_config(args, argv)
    result = run(config)
    if result.metrics.get("role") == "worker":
        if not config.quiet:
            print(f"worker {result.metrics['tuner_id']}: {len(result.metrics['trials'])} trial(s); "
                  f"the chief writes the results to {result.out}")
        return 0
    if not config.quiet:
        print(f"run folder: {result.out}")
        if (result.out / "report.html").exists():  # not with --no-report, nor when the report failed
            print(f"report:     {result.out / 'report.html'}")
    return 0


def cmd_predict(args) -> int:
    import time

    import numpy as np

    from ..run import load_run
    from ..run._predict import prediction_destination, score_batches
    from ..run._predict_io import DEFAULT_BATCH_ROWS, write_predictions

    target, share = prediction_destination(args.data, args.out)  # several TF_CONFIG tasks: this one's shards
    keep = ([args.id_column] if args.id_column else []) + [c for c in args.keep.split(",") if c]
    loaded = load_run(args.run_dir)
    shift = args.prevalence is not None or args.estimate_prevalence
    if shift:
        from ..run._shift import at_prevalence, base_rate, batch_prevalence

        base_rate(loaded)  # a multiclass run is refused before anything is scored
    start = time.perf_counter()
    batches = score_batches(loaded, args.data, data_dir=args.data_dir, threshold=args.threshold, keep=keep,
                            batch_rows=DEFAULT_BATCH_ROWS if args.batch_rows is None else args.batch_rows,
                            share=share)
    said = sys.stderr if target.kind == "stdout" else sys.stdout  # standard output may be the data itself
    scores, messages = [], []
    if shift:

        def shifted(batches):
            for path, frame in batches:
                if args.estimate_prevalence:
                    scores.append(frame["score"].to_numpy(dtype=float, copy=True))  # the scores only, not the rows
                if args.prevalence is not None:
                    frame, message = at_prevalence(loaded, frame, args.prevalence)
                    messages[:] = [message]
                yield path, frame

        batches = shifted(batches)
    rows = write_predictions(batches, target)
    seconds = time.perf_counter() - start
    if args.estimate_prevalence:
        for line in batch_prevalence(loaded, {"score": np.concatenate(scores)})[1]:
            print(line, file=said)
    for message in messages:
        print(message, file=said)
    if not args.quiet:
        where = "standard output" if target.kind == "stdout" else str(target.path)
        speed = rows / max(seconds, 1e-9)
        who = "" if share is None else (f" {share.task} (task {share.task.index + 1} of {share.task.count}, "
                                        f"{len(share.files)} of {len(share.all_files)} shards):")
        print(f"[raretune]{who} {rows:,} rows scored in {seconds:.1f} s ({speed:,.0f} rows/s) -> {where}",
              file=sys.stderr)
    return 0


def cmd_evaluate(args) -> int:
    from ..run._evaluate import evaluate

    quiet_libraries(False)  # main() quiets only run, predict and inspect
    result = evaluate(args.run_dir, args.data, target=args.target, data_dir=args.data_dir, out=args.out)
    m, psi = result["metrics"], result["psi"]
    iv = m.get("intervals") or {}
    span = f" [{iv['pr_auc'][0]:.4f}, {iv['pr_auc'][1]:.4f}]" if iv.get("pr_auc") else ""
    run_pr = result["run_test"].get("pr_auc")
    print(f"evaluation: {result['out'] / 'evaluation.html'}")
    print(f"PR-AUC {m['pr_auc']:.4f}{span} on {result['rows']['labelled']:,} rows"
          + (f" (run test {run_pr:.4f})" if isinstance(run_pr, float) else ""))
    if result["threshold"] is not None:
        print(f"at threshold {result['threshold']:.4f}: precision {m['precision']:.4f}, recall {m['recall']:.4f}, "
              f"positive rate {result['positive_rate']['batch']:.4f}")
    else:
        print(f"most probable class: macro precision {m['precision']:.4f}, macro recall {m['recall']:.4f}")
    if m.get("cost"):
        print(f"money lost {m['cost']['money_lost']:,.2f}, saved {m['cost']['money_saved_vs_flag_nobody']:,.2f} "
              "against flagging nobody" + (" (rows weighted)" if result["row_columns"].get("weight_column") else ""))
    print(f"score PSI {psi['value']:.4f} ({psi['reading']})" if psi else "score PSI: no scores.npz in the run")
    if result.get("prevalence"):
        p = result["prevalence"]
        low, high = p["interval"] or (float("nan"), float("nan"))
        print(f"positive rate estimated from the scores {p['estimated']:.4%} (95 % interval {low:.4%}-{high:.4%}); "
              f"labelled {p['labelled']:.4%}; training {p['train']:.4%}")
    for warning in result.get("warnings", []):
        print(f"warning: {warning}")
    return 0


def cmd_export(args) -> int:
    from ..run._export import export_saved_model

    print(export_saved_model(args.run_dir, args.out))
    return 0


def cmd_inspect(args) -> int:
    from ..datasets import describe_imbalance, load_data

    data = load_data(args.data, target=args.target, positive=args.positive, data_dir=args.data_dir,
                     keep=[c for c in args.keep.split(",") if c], drop=[c for c in args.drop.split(",") if c])
    d = describe_imbalance(data)
    print(f"source      {data.source}")
    print(f"rows        {d['n_rows']:,}")
    print(f"target      {data.target} ({'binary' if data.is_binary else f'{data.n_classes} classes'})")
    width = max(len(str(c)) for c in d["class_counts"])
    for name, count in d["class_counts"].items():
        mark = "  <- positive" if data.is_binary and name == data.classes[1] else ""
        print(f"  {name:<{width}}  {count:>10,}  {count / d['n_rows']:8.3%}{mark}")
    print(f"imbalance   {d['imbalance_ratio']:.1f}:1")
    if hasattr(data, "images"):
        print(f"images      {'x'.join(map(str, data.image_shape))} uint8")
    else:
        print(f"numeric     {len(data.numeric)}: {', '.join(data.numeric)}")
        print(f"categorical {len(data.categorical)}: {', '.join(data.categorical)}")
    for note in data.notes:
        print(f"note        {note}")
    for warning in d["warnings"]:
        print(f"warning     {warning}")
    return 0


def cmd_report(args) -> int:
    from .._errors import RunStateError
    from ..report import write_report

    run_dir = Path(args.run_dir)
    if not (run_dir / "metrics.json").is_file():
        raise RunStateError(f"{args.run_dir!r} is not a finished raretune run (no metrics.json).")
    print(write_report(run_dir))
    return 0


def cmd_remedies() -> int:
    from ..remedies import DEFAULT_STRATEGIES, REMEDIES

    width = max(len(n) for n in REMEDIES)
    for name, remedy in REMEDIES.items():
        default = " (default)" if name in DEFAULT_STRATEGIES else ""
        print(f"{name:<{width}}  {remedy.summary}{default}")
        print(f"{'':<{width}}  when: {remedy.when}")
    return 0


def cmd_finish_worker(args) -> int:
    from ..run._finish_worker import serve_finish

    records = serve_finish(args.run_dir)
    if not args.quiet:
        for i, record in enumerate(records):
            print(f"finished network {i}: {record['rows_read']:,} rows of {', '.join(record['files_read'])} in "
                  f"{record['seconds']:.1f} s ({record['steps']} steps)")
    return 0


COMMANDS = {"run": None, "predict": cmd_predict, "export": cmd_export, "evaluate": cmd_evaluate,
             "inspect": cmd_inspect, "report": cmd_report, "finish-worker": cmd_finish_worker}
