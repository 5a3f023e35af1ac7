"""``mlcli models predict`` and ``mlcli evaluate``: run and evaluate models from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlcli.cli.notices import warnings_as_notices
from mlcli.cli.options import (
    AllowPickleOption,
    ExperimentOption,
    JsonOption,
    QuietOption,
    RunOption,
)
from mlcli.cli.output import Output
from mlcli.cli.state import client as get_client

if TYPE_CHECKING:
    from mlcli.models.evaluation import EvaluationResult

ModelUriOption = Annotated[
    str,
    typer.Option(
        "--model-uri", "-m", help="A model directory, runs:/RUN/PATH or models:/NAME/VERSION."
    ),
]


def predict(
    ctx: typer.Context,
    model_uri: ModelUriOption,
    input_: Annotated[str, typer.Option("--input", "-i", help="Input file, or - for stdin.")] = "-",
    content_type: Annotated[
        str | None,
        typer.Option(
            "--content-type",
            "-t",
            help="json or csv (default: csv for a .csv file, json otherwise).",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the predictions here.")
    ] = None,
    allow_pickle: AllowPickleOption = False,
) -> None:
    """Run a model on a JSON or CSV file, without a server; print {"predictions": ...}.

    JSON: one of dataframe_split, dataframe_records, instances, inputs (+ params).
    Input that does not fit the model's signature is an error naming the column.
    A pickled model that mlcli did not write loads only with --allow-pickle.

    Example: mlcli models predict -m runs:/3f2a/model -i rows.csv -o predictions.json
    """
    import json

    from mlcli.cli.inputs import read_input
    from mlcli.models.scoring import predict_body

    kind = content_type or ("csv" if input_.lower().endswith(".csv") else "json")
    body = read_input(input_, "an input file")
    out = Output()
    with warnings_as_notices(out):
        result = predict_body(
            model_uri, body, kind, client=get_client(ctx), allow_pickle=allow_pickle
        )
    text = json.dumps(result, allow_nan=False)
    if output is None:
        out.line(text)
    else:
        output.write_text(text + "\n")
        out.info(f"Wrote {len(result['predictions'])} predictions to {output}")


def evaluate(
    ctx: typer.Context,
    model_uri: ModelUriOption,
    data: Annotated[Path, typer.Option("--data", "-d", help="A .csv or .parquet file.")],
    target: Annotated[str, typer.Option("--target", help="The column holding the labels.")],
    model_type: Annotated[
        str | None,
        typer.Option(
            "--model-type",
            help="classifier or regressor (default: regressor for a float target).",
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            "--threshold",
            help='A bound such as "accuracy_score>=0.9", "max_error<=2" or "f1_score>=baseline+2%"'
            " (repeatable).",
        ),
    ] = None,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="A baseline model URI to compare with.")
    ] = None,
    prefix: Annotated[
        str, typer.Option("--prefix", help="Prefix of the logged metric and artifact names.")
    ] = "",
    run: RunOption = None,
    experiment: ExperimentOption = None,
    allow_pickle: AllowPickleOption = False,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Evaluate a model on labelled data and log the metrics to a run.

    MLflow's metrics: accuracy_score, precision_score, recall_score, f1_score, log_loss,
    roc_auc... for classifiers; mean_squared_error, root_mean_squared_error, r2_score,
    mean_absolute_error, max_error... for regressors.
    A classifier's confusion matrix is saved too (image and JSON).
    Without --run the metrics go to a new run.
    Exits 1 with a report when a --threshold fails.

    Example: mlcli evaluate -m runs:/3f2a/model -d test.csv --target y
    --threshold "accuracy_score>=0.9"
    """
    from mlcli.models.errors import ModelValidationFailedError
    from mlcli.models.evaluation import evaluate as evaluate_model

    out = Output(json_mode=json_, quiet=quiet)
    try:
        with warnings_as_notices(out):
            result = evaluate_model(
                model_uri,
                data,
                target,
                model_type=model_type,
                validation_thresholds=threshold or None,
                baseline_model=baseline,
                metric_prefix=prefix,
                run_id=run,
                experiment=experiment,
                client=get_client(ctx),
                allow_pickle=allow_pickle,
            )
    except ModelValidationFailedError as exc:
        _render_evaluation(out, exc.result)
        raise
    _render_evaluation(out, result)


def _render_evaluation(out: Output, result: EvaluationResult) -> None:
    from mlcli.models.input_example import jsonable

    if out.json_mode:
        out.json(jsonable(result.to_dict()))
        return
    if out.quiet:
        out.line(result.run_id)
        return
    prefix = result.metric_prefix
    rows = [[k, _number(v)] for k, v in sorted(result.metrics.items())]
    if result.baseline_metrics is not None:
        for row in rows:
            row.append(_number(result.baseline_metrics.get(row[0][len(prefix) :])))
    columns = ["METRIC", "VALUE"] + (["BASELINE"] if result.baseline_metrics is not None else [])
    out.table(columns, rows)
    for name, artifact in sorted(result.artifacts.items()):
        out.info(f"Saved {name} as artifact {artifact.path}")
    for outcome in result.validation:
        if outcome.passed:
            out.info(f"ok  {outcome.reason}")
    out.info(f"Logged {len(result.metrics)} metrics to run {result.run_id[:8]}")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def convert(
    ctx: typer.Context,
    model_uri: Annotated[
        str, typer.Argument(help="A model directory, runs:/RUN/PATH or models:/NAME/VERSION.")
    ],
    to: Annotated[str, typer.Option("--to", help="The format to convert to: onnx.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Save the converted model here.")
    ] = None,
    log: Annotated[
        bool, typer.Option("--log", help="Log it to a run (--run; default: the model's run).")
    ] = False,
    run_id: RunOption = None,
    name: Annotated[str, typer.Option("--name", help="Its name in the run, with --log.")] = "onnx",
    register: Annotated[
        str | None,
        typer.Option("--register", help="Log it and register it as a version of this model."),
    ] = None,
    allow_pickle: AllowPickleOption = False,
    json_: JsonOption = False,
    quiet: QuietOption = False,
) -> None:
    """Convert a scikit-learn or PyTorch model to ONNX, served by onnxruntime alone.

    The converted model needs neither scikit-learn nor torch: its requirements are
    onnx and onnxruntime. Save it to a directory (-o), or log it next to the source
    model in its run (--log, or --register NAME to register it too).

    Example: mlcli models convert runs:/3f2a/model --to onnx -o model-onnx
    """
    from mlcli.models.convert import convert_model

    out = Output(json_mode=json_, quiet=quiet)
    with warnings_as_notices(out):
        result = convert_model(
            model_uri,
            to,
            output=output,
            run_id=run_id,
            name=name,
            registered_model_name=register,
            log=log,
            client=get_client(ctx),
            allow_pickle=allow_pickle,
        )
    info = result.model_info
    where = str(result.path) if info is None else info.run_model_uri
    if json_:
        document: dict[str, Any] = {
            "source": result.source_uri,
            "flavor": result.source_flavor,
            "uri": where,
        }
        if info is not None:
            document.update(model_uri=info.model_uri, version=info.registered_model_version)
        out.json(document)
        return
    out.line(where)
    out.info(f"Converted the {result.source_flavor} model {model_uri} to ONNX: {where}")
    if info is not None and info.registered_model_version is not None:
        out.info(f"Registered {register!r} version {info.registered_model_version}")
