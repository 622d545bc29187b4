"""The filters of fetch against the real Label Studio: a Data Manager tab holds what Label Studio's
own export of that tab holds; finished, reviewed, annotator, since, ids and labels keep the tasks
worked out by hand from the tasks made here; the report counts what each filter left out."""

from __future__ import annotations

import datetime
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ml_data.cli import main
from ml_data.errors import ConfigurationError
from ml_data.pipeline import DatasetOptions, fetch
from tests.support.label_studio_project import Seeded

CONFIG = """<View>
  <Text name="text" value="$text"/>
  <Labels name="label" toName="text">
    <Label value="cat"/>
    <Label value="dog"/>
    <Label value="bird"/>
  </Labels>
</View>"""


def _span(region_id: str, label: str, start: int = 0) -> dict[str, Any]:
    return {
        "id": region_id,
        "from_name": "label",
        "to_name": "text",
        "type": "labels",
        "value": {"start": start, "end": start + 3, "text": "abc", "labels": [label]},
    }


@dataclass
class FilterProject:
    seeded: Seeded
    project: int
    #: task ids by what was done to them (see the fixture)
    ids: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    #: tasks made (and annotated) at or after this moment; the others before it
    later: str = ""

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.seeded.api(method, path, **kwargs).json()

    def annotate(self, task: int, regions: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return self.api("POST", f"/api/tasks/{task}/annotations/", json={"result": regions, **extra})

    def import_tasks(self, texts: list[str]) -> list[int]:
        before = set(self.task_ids())
        self.api("POST", f"/api/projects/{self.project}/import", json=[{"text": text} for text in texts])
        return sorted(set(self.task_ids()) - before)

    def task_ids(self) -> list[int]:
        body = self.api("GET", "/api/tasks", params={"project": self.project, "page_size": 1000, "fields": "task_only"})
        return [task["id"] for task in body["tasks"]]

    def label_studio_export(self, **task_filter_options: Any) -> list[dict[str, Any]]:
        """Label Studio's own snapshot export, with its own task filter: the oracle."""
        created = self.api(
            "POST",
            f"/api/projects/{self.project}/exports/",
            json={"title": "oracle", "task_filter_options": task_filter_options},
        )
        for _ in range(120):
            state = self.api("GET", f"/api/projects/{self.project}/exports/{created['id']}")
            if state["status"] == "completed":
                break
            time.sleep(0.25)
        body = self.seeded.api(
            "GET", f"/api/projects/{self.project}/exports/{created['id']}/download", params={"exportType": "JSON"}
        )
        return body.json()


def _user(seeded: Seeded, email: str) -> int:
    listed = seeded.api("GET", "/api/users/").json()
    for user in listed if isinstance(listed, list) else listed.get("results", []):
        if user["email"] == email:
            return user["id"]
    return seeded.api(
        "POST", "/api/users/", json={"email": email, "username": email.split("@")[0], "first_name": email[:3]}
    ).json()["id"]


@pytest.fixture(scope="module")
def made(seeded: Seeded) -> FilterProject:
    """A text project: ten tasks made and annotated in two rounds, a second apart.

    Before ``later``: ``cat`` (admin: cat), ``dog`` (Ann: dog), ``both`` (Ann: cat and dog, and a
    relation between them), ``reviewed`` (Bob: cat, accepted in review), ``skipped`` (admin
    skipped it), ``empty`` (no annotation). At or after it: ``late_cat`` (Bob: cat), ``late_bird``
    (admin: bird), ``late_two`` (admin: cat, Bob: dog), ``late_empty``.
    """
    created = seeded.api("POST", "/api/projects/", json={"title": "filters", "label_config": CONFIG}).json()
    made = FilterProject(seeded, created["id"])
    made.users = {"ann": _user(seeded, "ann@example.com"), "bob": _user(seeded, "bob@example.com")}
    first = made.import_tasks(["cat one", "dog two", "both three", "reviewed four", "skipped five", "empty six"])
    made.ids.update(zip(["cat", "dog", "both", "reviewed", "skipped", "empty"], first, strict=True))
    made.annotate(made.ids["cat"], [_span("c1", "cat")])
    made.annotate(made.ids["dog"], [_span("d1", "dog")], completed_by=made.users["ann"])
    relation = {"type": "relation", "from_id": "b1", "to_id": "b2", "direction": "right"}
    made.annotate(
        made.ids["both"], [_span("b1", "cat"), _span("b2", "dog", 4), relation], completed_by=made.users["ann"]
    )
    reviewed = made.annotate(made.ids["reviewed"], [_span("r1", "cat")], completed_by=made.users["bob"])
    made.api("PATCH", f"/api/annotations/{reviewed['id']}/", json={"last_action": "accepted"})
    made.annotate(made.ids["skipped"], [], was_cancelled=True)
    time.sleep(1.2)
    made.later = datetime.datetime.now(datetime.timezone.utc).isoformat()
    time.sleep(1.2)
    second = made.import_tasks(["late cat", "late bird", "late two", "late empty"])
    made.ids.update(zip(["late_cat", "late_bird", "late_two", "late_empty"], second, strict=True))
    made.annotate(made.ids["late_cat"], [_span("lc", "cat")], completed_by=made.users["bob"])
    made.annotate(made.ids["late_bird"], [_span("lb", "bird")])
    made.annotate(made.ids["late_two"], [_span("l2", "cat")])
    made.annotate(made.ids["late_two"], [_span("l3", "dog")], completed_by=made.users["bob"])
    return made


def _fetch(made: FilterProject, tmp_path: Path, name: str, **filters: Any):  # type: ignore[no-untyped-def]
    out = tmp_path / name
    report = fetch(
        made.project, DatasetOptions(format="json", **filters), settings=made.seeded.settings(tmp_path), out=out
    )
    tasks = json.loads((out / "result.json").read_bytes())
    return report, {task["id"]: task for task in tasks}


def _names(made: FilterProject, ids: Any) -> set[str]:
    by_id = {task_id: name for name, task_id in made.ids.items()}
    return {by_id[task_id] for task_id in ids}


def test_a_view_holds_what_label_studios_export_of_it_holds(made, tmp_path):
    view = made.api(
        "POST",
        "/api/dm/views/",
        json={
            "project": made.project,
            "data": {
                "title": "annotated",
                "filters": {
                    "conjunction": "and",
                    "items": [
                        {
                            "filter": "filter:tasks:total_annotations",
                            "operator": "greater",
                            "type": "Number",
                            "value": 0,
                        }
                    ],
                },
            },
        },
    )
    oracle = made.label_studio_export(view=view["id"])
    shown = made.api("GET", "/api/tasks", params={"project": made.project, "view": view["id"], "fields": "task_only"})
    assert 0 < len(oracle) < len(made.ids)
    assert shown["total"] == len(oracle)

    report, tasks = _fetch(made, tmp_path, "view", view=view["id"])

    assert set(tasks) == {task["id"] for task in oracle}
    assert report.tasks == len(oracle)
    assert report.left_out == {"view": len(made.ids) - len(oracle)}
    manifest = json.loads(report.manifest.read_bytes())
    assert manifest["settings"]["view"] == view["id"]
    assert manifest["left_out"] == {"view": len(made.ids) - len(oracle)}


def test_a_view_of_another_project_or_none_is_refused(made, seeded, tmp_path):
    other = made.api("POST", "/api/dm/views/", json={"project": seeded.project, "data": {"title": "other"}})
    with pytest.raises(ConfigurationError, match=f"belongs to project {seeded.project}"):
        _fetch(made, tmp_path, "other", view=other["id"])
    with pytest.raises(ConfigurationError, match="no Data Manager tab 999999"):
        _fetch(made, tmp_path, "none", view=999999)
    assert not (tmp_path / "other").exists() and not (tmp_path / "none").exists()


def test_finished_only_and_exclude(made, tmp_path):
    finished = {task["id"] for task in made.label_studio_export(finished="only")}
    assert _names(made, finished) == {"cat", "dog", "both", "reviewed", "late_cat", "late_bird", "late_two"}

    report, tasks = _fetch(made, tmp_path, "finished", finished="only")
    assert set(tasks) == finished
    assert report.left_out == {"finished": len(made.ids) - len(finished)}

    report, tasks = _fetch(made, tmp_path, "unfinished", finished="exclude", annotations="all")
    assert _names(made, tasks) == {"skipped", "empty", "late_empty"}


def test_reviewed_annotator_since_and_ids(made, tmp_path):
    _report, tasks = _fetch(made, tmp_path, "reviewed", reviewed="only")
    assert _names(made, tasks) == {"reviewed"}

    report, tasks = _fetch(made, tmp_path, "bob", annotator="BOB@example.com")
    assert _names(made, tasks) == {"reviewed", "late_cat", "late_two"}
    # Only Bob's annotations are kept: of late_two, his dog and not the admin's cat.
    assert [a["completed_by"] for a in tasks[made.ids["late_two"]]["annotations"]] == [made.users["bob"]]
    assert report.left_out == {"annotator": len(made.ids) - 3}

    _report, tasks = _fetch(made, tmp_path, "ann-id", annotator=str(made.users["ann"]))
    assert _names(made, tasks) == {"dog", "both"}

    _report, tasks = _fetch(made, tmp_path, "since", since=made.later)
    assert _names(made, tasks) == {"late_cat", "late_bird", "late_two", "late_empty"}

    ids = f"{made.ids['dog']}-{made.ids['reviewed']},{made.ids['late_bird']}"
    report, tasks = _fetch(made, tmp_path, "ids", ids=ids)
    assert _names(made, tasks) == {"dog", "both", "reviewed", "late_bird"}
    assert report.left_out == {"ids": len(made.ids) - 4}


def test_labels_keep_tasks_with_them_and_drop_other_regions(made, tmp_path):
    report, tasks = _fetch(made, tmp_path, "cats", labels="cat")

    assert _names(made, tasks) == {"cat", "both", "reviewed", "late_cat", "late_two"}
    both = tasks[made.ids["both"]]["annotations"][0]["result"]
    # the dog region goes, and the relation that pointed at it
    assert [region["id"] for region in both] == ["b1"]
    late_two = tasks[made.ids["late_two"]]["annotations"]
    assert sorted(len(annotation["result"]) for annotation in late_two) == [0, 1]
    assert report.regions_dropped == {"dog": 2}
    # left out: dog and late_bird (no cat), skipped, empty and late_empty (no label at all)
    assert report.left_out == {"labels": 5}


def test_filters_combine_and_a_rerun_with_another_filter_is_another_dataset(made, tmp_path):
    report, tasks = _fetch(made, tmp_path, "same", finished="only", labels="cat,bird", since=made.later)
    assert _names(made, tasks) == {"late_cat", "late_bird", "late_two"}
    assert report.left_out == {"finished": 3, "since": 4, "labels": 0}

    again, _tasks = _fetch(made, tmp_path, "same", finished="only", labels=["bird", "cat"], since=made.later)
    assert again.unchanged  # the same filter, spelled another way

    other, tasks = _fetch(made, tmp_path, "same", finished="only", labels="bird", since=made.later)
    assert not other.unchanged
    assert _names(made, tasks) == {"late_bird"}


def test_the_cli_takes_the_filters_and_prints_what_they_left_out(made, tmp_path):
    settings = made.seeded.settings(tmp_path)
    env = {
        "LABEL_STUDIO_URL": settings.label_studio_url,
        "LABEL_STUDIO_API_KEY": settings.api_key,
        "ML_DATA_CACHE_DIR": str(tmp_path / "cache"),
    }
    out = tmp_path / "cli"
    args = ["fetch", "--project", str(made.project), "--format", "json", "--out", str(out)]
    result = CliRunner().invoke(main, [*args, "--labels", "dog", "--ids", f"1-{made.ids['late_cat']}"], env=env)
    assert result.exit_code == 0, result.output
    assert "left out by filters: labels" in result.output
    assert _names(made, (task["id"] for task in json.loads((out / "result.json").read_bytes()))) == {"dog", "both"}

    result = CliRunner().invoke(main, [*args, "--since", "yesterday"], env=env)
    assert result.exit_code != 0
    assert "since" in result.output and "ISO date" in result.output


def test_a_view_for_an_export_file_is_refused(made, tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps(made.label_studio_export()))
    with pytest.raises(ConfigurationError, match="view: a Data Manager tab filters a live project"):
        fetch(str(export), DatasetOptions(format="json", view=1), out=tmp_path / "out", config=CONFIG)
    # the other filters work on a file, finished by Label Studio's rule with the default overlap
    report = fetch(str(export), DatasetOptions(format="json", finished="only"), out=tmp_path / "out", config=CONFIG)
    kept = {task["id"] for task in json.loads((tmp_path / "out" / "result.json").read_bytes())}
    assert kept == {task["id"] for task in made.label_studio_export(finished="only")}
    assert report.left_out == {"finished": 3}
