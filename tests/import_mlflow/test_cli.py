"""``trackledger import-mlflow`` as a user meets it: a progress line and a summary, a dry
run that says so, and every error as one line with status 2."""

from __future__ import annotations

import sqlite3

import pytest

from tests.server.process import free_port
from trackledger.cli import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(["import-mlflow", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_summary_progress_and_dry_run(tmp_path, mlflow_db, capsys):
    db, _ = mlflow_db
    store = ["--backend-store-uri", f"sqlite:///{tmp_path / 'tl.db'}"]
    status, out, err = _run(capsys, f"sqlite:///{db}", "--dry-run", *store)
    assert status == 0, err
    assert out.startswith(f"would import from sqlite:///{db} in ")
    assert "(dry run: nothing written)" in out
    assert "runs: 4 new, 0 updated, 0 unchanged, 0 skipped" in out
    status, out, err = _run(capsys, f"sqlite:///{db}", *store)
    assert status == 0, err
    assert "runs: 4 new" in out and "metric points: 5;" in out
    assert "import-mlflow: 4/4 runs (100%)" in err and "points/s" in err and "ETA" in err
    status, out, err = _run(capsys, f"sqlite:///{db}", "--experiment", "e1", *store)
    assert status == 0, err
    assert "runs: 0 new, 0 updated, 3 unchanged" in out


def test_a_clash_exits_with_status_1(tmp_path, mlflow_db, capsys):
    db, _ = mlflow_db
    target = tmp_path / "tl.db"
    assert (
        main(["import-mlflow", f"sqlite:///{db}", "--backend-store-uri", f"sqlite:///{target}"])
        == 0
    )
    renamed = sqlite3.connect(db, isolation_level=None)
    renamed.execute("UPDATE experiments SET experiment_id = 7 WHERE name = 'e2'")
    renamed.execute("UPDATE runs SET experiment_id = 7 WHERE experiment_id = 2")
    renamed.close()
    # e2 is now experiment 7 in MLflow, but its name belongs to experiment 2 here.
    status, _, err = _run(capsys, f"sqlite:///{db}", "--backend-store-uri", f"sqlite:///{target}")
    assert status == 1
    assert "import-mlflow: clash (not imported): experiment 7 'e2'" in err


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("ftp://host/x", "unsupported MLflow source 'ftp://host/x'"),
        ("sqlite:///{tmp}/missing.db", "no MLflow database at"),
        ("sqlite:///{tmp}/tl.db", "is not an MLflow tracking database (no table"),
        ("http://127.0.0.1:{port}", "ConnectError"),
        ("postgresql://postgres@127.0.0.1:{port}/x", "cannot connect to"),
    ],
)
def test_errors_are_one_line(tmp_path, capsys, source, message):
    main(["db", "upgrade", "--backend-store-uri", f"sqlite:///{tmp_path / 'tl.db'}"])
    source = source.format(tmp=tmp_path, port=free_port())
    store = f"sqlite:///{tmp_path / 'target.db'}"
    status, _, err = _run(capsys, source, "--backend-store-uri", store)
    assert status == 2
    assert err.startswith("trackledger import-mlflow: error: ") and message in err
    assert err.count("\n") == 1, err


def test_an_unknown_experiment_is_one_line(tmp_path, mlflow_db, capsys):
    db, _ = mlflow_db
    store = f"sqlite:///{tmp_path / 'tl.db'}"
    status, _, err = _run(
        capsys, f"sqlite:///{db}", "--experiment", "nope", "--backend-store-uri", store
    )
    assert status == 2
    assert err == (
        "trackledger import-mlflow: error: the source has no experiment with id or name 'nope'\n"
    )
