"""Differential test: the same runs in MLflow's own server and in trackledger, the same
searches on both, identical answers in order (runs are matched by their unique names)."""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass, field

import asyncpg
import pytest

from tests import loopback
from tests.server.mlflow_server import MlflowServer
from tests.server.parity_seed import API, plan, seed
from tests.server.process import ServerProcess

pytestmark = pytest.mark.slow

ALL = ["parity-a", "parity-b"]


@dataclass
class Side:
    url: str
    ids: dict[str, str]
    #: Experiment ids by name, looked up once.
    experiments: dict[str, str] = field(default_factory=dict)
    #: Answers by query, when the side's data never changes (MLflow's answers are the
    #: same for both trackledger backends: each is asked once).
    answers: dict[str, tuple[int, list[list[str]]]] | None = None

    def experiment_ids(self, names: list[str]) -> list[str]:
        for name in names:
            if name not in self.experiments:
                response = loopback.get(
                    f"{self.url}{API}/experiments/get-by-name", params={"experiment_name": name}
                )
                self.experiments[name] = response.json()["experiment"]["experiment_id"]
        return [self.experiments[name] for name in names]

    def fill(self, text: str) -> str:
        for name, run_id in self.ids.items():
            text = text.replace("{id:" + name + "}", run_id)
        return text

    def search(
        self, experiments: list[str], filter_: str, order_by: list[str], view: str, page_size: int
    ) -> tuple[int, list[list[str]]]:
        query = repr((experiments, filter_, order_by, view, page_size))
        if self.answers is not None and query in self.answers:
            return self.answers[query]
        answer = self._search(experiments, filter_, order_by, view, page_size)
        if self.answers is not None:
            self.answers[query] = answer
        return answer

    def _search(
        self, experiments: list[str], filter_: str, order_by: list[str], view: str, page_size: int
    ) -> tuple[int, list[list[str]]]:
        body = {
            "experiment_ids": self.experiment_ids(experiments),
            "filter": self.fill(filter_),
            "order_by": order_by,
            "run_view_type": view,
            "max_results": page_size,
        }
        pages: list[list[str]] = []
        with loopback.client(timeout=60) as http:
            for _ in range(100):
                response = http.post(f"{self.url}{API}/runs/search", json=body)
                if response.status_code != 200:
                    return response.status_code, pages
                data = response.json()
                pages.append([r["info"]["run_name"] for r in data.get("runs", [])])
                if "next_page_token" not in data:
                    break
                body["page_token"] = data["next_page_token"]
        return 200, pages


@pytest.fixture(scope="module")
def mlflow_side(tmp_path_factory):
    server = MlflowServer(tmp_path_factory.mktemp("mlflow")).start()
    try:
        yield Side(server.url, seed(server.url), answers={})
    finally:
        server.stop()


async def _admin(database: str, sql: str) -> None:
    conn = await asyncpg.connect(database)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def trackledger_side(request, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("trackledger")
    schema = None
    if request.param == "sqlite":
        uri = f"sqlite:///{workdir / 'trackledger.db'}"
    else:
        database = request.getfixturevalue("postgres_database")
        schema = f"parity_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(database, f"CREATE SCHEMA {schema}"))
        uri = f"{database}?search_path={schema}"
    server = ServerProcess(workdir, uri).start()
    try:
        yield Side(server.url, seed(server.url))
    finally:
        server.stop()
        if schema is not None:
            asyncio.run(_admin(database, f"DROP SCHEMA {schema} CASCADE"))


FILTERS = [
    "",
    "metrics.acc > 0.5",
    "metrics.acc >= 0.5",
    "metrics.acc < 0.5",
    "metrics.acc <= 0.3",
    "metrics.acc = 0.4",
    "metrics.acc != 0.4",
    "metrics.loss < 0.12",
    "metrics.loss > 0.5",
    "metrics.`val loss` > 1",
    'metrics."train-acc" >= 0.25',
    "params.model = 'cnn'",
    "params.model != 'cnn'",
    "params.model LIKE 'c%'",
    "params.model ILIKE 'c%'",
    "params.model LIKE '%N'",
    "params.model LIKE '_nn'",
    "params.lr = '0.01'",
    "params.opt IS NULL",
    "params.opt IS NOT NULL",
    "tags.team = 'a'",
    "tags.team != 'a'",
    "tags.team IS NULL",
    "tags.team IS NOT NULL",
    "tags.mlflow.user = 'alice'",
    "tags.`mlflow.user` = 'bob'",
    "attributes.status = 'FINISHED'",
    "status != 'RUNNING'",
    "attributes.status = 'finished'",
    "attributes.user_id = 'alice'",
    "attributes.run_name = 'run-03'",
    "run_name LIKE 'run-1%'",
    "attributes.`run name` ILIKE '%seven%'",
    "attributes.start_time > 11000",
    "attributes.end_time < 11500",
    "created >= 12000",
    "attributes.run_id = '{id:run-03}'",
    "attributes.run_id IN ('{id:run-03}', '{id:run-09}', '{id:Run Seven}')",
    "attributes.run_id LIKE '%'",
    "datasets.name = 'ds1'",
    "datasets.context = 'training'",
    "datasets.digest IN ('d1')",
    "tags.mlflow.parentRunId = '{id:tree-root}'",
    "metrics.acc > 0.2 AND params.model = 'cnn'",
    "metrics.acc > 0.2 and tags.team = 'b' AND attributes.status = 'FINISHED'",
    "params.model = 'rnn' AND params.lr = '0.1' AND metrics.loss < 0.2",
    "metrics.acc > 0.5 AND",
    "tags.team = 'a' AND AND params.model = 'rnn'",
]

ORDERS = [
    [],
    ["metrics.acc DESC"],
    ["metrics.acc ASC"],
    ["metrics.acc"],
    ["metrics.loss DESC"],
    ["metrics.`val loss` ASC", "metrics.acc DESC"],
    ["params.model DESC", "metrics.acc"],
    ["params.lr"],
    ["tags.team"],
    ["tags.team DESC", "params.model"],
    ["attributes.start_time ASC"],
    ["start_time DESC"],
    ["attributes.run_name"],
    ["status DESC"],
    ["attributes.end_time"],
    ["attributes.user_id DESC", "metrics.acc DESC"],
    ["created ASC"],
]

CASES = (
    [pytest.param(ALL, f, [], "ACTIVE_ONLY", 1000, id=f"filter:{f or '-'}") for f in FILTERS]
    + [
        pytest.param(ALL, "", o, "ACTIVE_ONLY", 1000, id=f"order:{','.join(o) or '-'}")
        for o in ORDERS
    ]
    + [
        pytest.param(ALL, "metrics.acc > 0.1", ["metrics.acc DESC"], "ACTIVE_ONLY", 7, id="page-7"),
        pytest.param(ALL, "", ["params.model"], "ALL", 1, id="page-1-all"),
        pytest.param(ALL, "", [], "DELETED_ONLY", 1000, id="deleted-only"),
        pytest.param(ALL, "", ["metrics.acc DESC"], "ALL", 5, id="all-page-5"),
        pytest.param(["parity-a"], "tags.team = 'a'", ["metrics.loss"], "ALL", 3, id="one-exp"),
        pytest.param(["parity-b"], "", [], "ACTIVE_ONLY", 1000, id="exp-b"),
        pytest.param(["parity-c"], "", [], "ALL", 1000, id="deleted-exp-empty"),
    ]
)


@pytest.mark.parametrize(("experiments", "filter_", "order_by", "view", "page_size"), CASES)
def test_search_answers_match_mlflow(
    mlflow_side, trackledger_side, experiments, filter_, order_by, view, page_size
):
    expected = mlflow_side.search(experiments, filter_, order_by, view, page_size)
    assert expected[0] == 200, "MLflow refused a query meant to be valid"
    got = trackledger_side.search(experiments, filter_, order_by, view, page_size)
    assert got == expected


MALFORMED = [
    "metrics.acc > 'x'",
    "params.model = cnn",
    "metrics.acc >",
    "foo.bar = 'x'",
    "params.model LIKE",
    "metrics.acc > 0.5 ; DROP TABLE runs",
    "(metrics.acc > 0.5",
    "metrics.acc ~ 1",
    "attributes.start_time > 'yesterday'",
    "attributes.nope = 'x'",
    "datasets.size = 'x'",
    "params.model = 'a",
]


@pytest.mark.parametrize("filter_", MALFORMED)
def test_malformed_filters_are_400_on_both(mlflow_side, trackledger_side, filter_):
    assert mlflow_side.search(ALL, filter_, [], "ACTIVE_ONLY", 10)[0] == 400
    assert trackledger_side.search(ALL, filter_, [], "ACTIVE_ONLY", 10)[0] == 400


@pytest.mark.parametrize(
    "order_by", [["metrics.acc DECS"], ["params.model ASC extra"], ["datasets.name"]]
)
def test_malformed_order_by_is_400_on_both(mlflow_side, trackledger_side, order_by):
    assert mlflow_side.search(ALL, "", order_by, "ACTIVE_ONLY", 10)[0] == 400
    assert trackledger_side.search(ALL, "", order_by, "ACTIVE_ONLY", 10)[0] == 400


def _run(side: Side, name: str) -> dict:
    response = loopback.get(f"{side.url}{API}/runs/get", params={"run_id": side.ids[name]})
    assert response.status_code == 200
    run = response.json()["run"]
    info = {
        k: v
        for k, v in run["info"].items()
        if k not in ("run_id", "run_uuid", "experiment_id", "artifact_uri")
    }
    data = run["data"]
    data["tags"] = sorted(
        (
            t
            for t in data.get("tags", [])
            if t["key"] not in ("mlflow.rootRunId", "mlflow.parentRunId")
        ),
        key=lambda t: t["key"],
    )
    for part in ("metrics", "params"):
        data[part] = sorted(data.get(part, []), key=lambda m: m["key"])
    return {"info": info, "data": data, "inputs": run["inputs"]}


def test_every_run_reads_the_same(mlflow_side, trackledger_side):
    for name in mlflow_side.ids:
        assert _run(trackledger_side, name) == _run(mlflow_side, name), name


def test_metric_histories_match(mlflow_side, trackledger_side):
    for name in ("run-03", "run-04", "run-10"):
        for key in ("loss", "acc"):
            answers = [
                loopback.get(
                    f"{side.url}{API}/metrics/get-history",
                    params={"run_id": side.ids[name], "metric_key": key},
                ).json()
                for side in (mlflow_side, trackledger_side)
            ]
            assert answers[1] == answers[0]


@pytest.mark.parametrize(
    ("filter_", "order_by", "view"),
    [
        ("", [], "ACTIVE_ONLY"),
        ("name LIKE 'parity%'", ["name DESC"], "ALL"),
        ("name ILIKE 'PARITY-_'", [], "ALL"),
        ("tags.kind = 'main'", [], "ACTIVE_ONLY"),
        ("tags.kind IS NULL", ["name"], "ALL"),
        ("name != 'parity-a'", ["name"], "DELETED_ONLY"),
    ],
)
def test_experiment_search_matches(mlflow_side, trackledger_side, filter_, order_by, view):
    answers = []
    for side in (mlflow_side, trackledger_side):
        body = {"filter": filter_, "order_by": order_by, "view_type": view, "max_results": 2}
        names = []
        for _ in range(10):
            data = loopback.post(f"{side.url}{API}/experiments/search", json=body).json()
            names.append([e["name"] for e in data.get("experiments", [])])
            if "next_page_token" not in data:
                break
            body["page_token"] = data["next_page_token"]
        answers.append(names)
    assert answers[1] == answers[0]


# -- extensions: checked against answers computed here from the seeded plan ------------------


def _active(runs):
    return [r for r in runs if not r.deleted]


def _newest_first(runs):
    seeded = [r for r in runs if not isinstance(r, str)]
    return [r.name for r in sorted(seeded, key=lambda r: -r.start_time)] + [
        r for r in runs if isinstance(r, str)
    ]


def _latest(run, key):
    points = run.history.get(key)
    if not points:
        return None
    return max(points, key=lambda p: (p[2], p[1], 0.0 if math.isnan(p[0]) else p[0]))[0]


def _number(text):
    try:
        return float(text)
    except ValueError:
        return None


SEEDED = _active(plan())
#: The run tree (no params, metrics or team tag), newest first; older than every seeded run.
TREE = ["tree-child-2", "tree-grandchild", "tree-child", "tree-root"]
EXTENSIONS = [
    ("params.lr < 0.01", [r for r in SEEDED if _number(r.params["lr"]) < 0.01]),
    ("params.lr >= 0.1", [r for r in SEEDED if _number(r.params["lr"]) >= 0.1]),
    ("tags.priority = 2", [r for r in SEEDED if r.tags["priority"] == "2"]),
    ("params.lr = 10", [r for r in SEEDED if r.params["lr"] == "10"]),
    ("params.model = 5", []),
    (
        "params.model = 'cnn' OR params.model = 'rnn'",
        [r for r in SEEDED if r.params["model"] in ("cnn", "rnn")],
    ),
    ("NOT (tags.team = 'a')", [r for r in SEEDED if r.tags.get("team") == "b"]),
    ("tags.team NOT IN ('a')", [r for r in SEEDED if r.tags.get("team") == "b"]),
    ("params.model IN ('cnn', 'mlp')", [r for r in SEEDED if r.params["model"] in ("cnn", "mlp")]),
    ("NOT params.opt = 'adam'", [r for r in SEEDED if r.params.get("opt") == "sgd"]),
    ("metrics.acc IS NULL", [r for r in SEEDED if "acc" not in r.history] + TREE),
    (
        "MIN(metrics.loss) < 0.11",
        [r for r in SEEDED if min(p[0] for p in r.history["loss"]) < 0.11],
    ),
    ("MAX(metrics.loss) > 0.9", [r for r in SEEDED if max(p[0] for p in r.history["loss"]) > 0.9]),
    ("LATEST(metrics.loss) < 0.12", [r for r in SEEDED if _latest(r, "loss") < 0.12]),
    (
        "(tags.team = 'a' OR tags.team = 'b') AND NOT params.model LIKE 'c%'",
        [r for r in SEEDED if "team" in r.tags and not r.params["model"].startswith("c")],
    ),
    ("params.model NOT LIKE '%n%'", [r for r in SEEDED if "n" not in r.params["model"]]),
    ("metrics.acc > 0.5 OR metrics.acc != metrics.acc", None),  # invalid: value must be literal
]


@pytest.mark.parametrize(("filter_", "expected"), EXTENSIONS, ids=[e[0] for e in EXTENSIONS])
def test_extensions(trackledger_side, filter_, expected):
    status, pages = trackledger_side.search(
        ["parity-a", "parity-b"], filter_, [], "ACTIVE_ONLY", 1000
    )
    if expected is None:
        assert status == 400
        return
    assert status == 200
    assert pages == [_newest_first(expected)]


def test_root_run_id_finds_a_whole_tree(trackledger_side):
    status, pages = trackledger_side.search(
        ["parity-a"], "tags.mlflow.rootRunId = '{id:tree-root}'", ["run_name"], "ACTIVE_ONLY", 100
    )
    assert (status, pages) == (200, [["tree-child", "tree-child-2", "tree-grandchild"]])


def test_order_by_aggregates(trackledger_side):
    status, pages = trackledger_side.search(
        ALL, "", ["MAX(metrics.loss) DESC"], "ACTIVE_ONLY", 1000
    )
    expected = sorted(SEEDED, key=lambda r: (-max(p[0] for p in r.history["loss"]), -r.start_time))
    # Runs without the metric come last, newest first among themselves.
    assert (status, pages) == (200, [[r.name for r in expected] + TREE])
