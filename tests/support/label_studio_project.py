"""Project 3 on the session's real Label Studio, seeded through the REST API only: an uploaded
image, images on a Local Files storage, images on a loopback file server, annotations (one box
rotated), a prediction, and one task without annotations."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests
from PIL import Image

from ml_data.config import Settings
from tests.support.servers.http_files import FileServer
from tests.support.servers.label_studio import LabelStudioServer

CONFIG = """<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image">
    <Label value="cat"/>
    <Label value="dog"/>
  </RectangleLabels>
</View>"""


def png(color: tuple[int, int, int], size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Seeded:
    server: LabelStudioServer
    files: FileServer
    project: int
    #: task id -> the original bytes of its image
    originals: dict[int, bytes] = field(default_factory=dict)
    unannotated: int = 0
    rotated: int = 0
    #: Label Studio gives a user one personal access token at a time: made once, shared by tests
    _personal_access_token: str | None = None

    def personal_access_token(self) -> str:
        if self._personal_access_token is None:
            self._personal_access_token = self.api("POST", "/api/token/").json()["token"]
        return self._personal_access_token

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Token {self.server.legacy_token}"}
        response = requests.request(method, f"{self.server.url}{path}", headers=headers, timeout=60, **kwargs)
        assert response.ok, f"{method} {path}: {response.status_code} {response.text[:300]}"
        return response

    def settings(self, tmp_path: Path, token: str | None = None) -> Settings:
        return Settings(
            label_studio_url=self.server.url,
            api_key=token or self.server.legacy_token,
            cache_dir=tmp_path / "cache",
            read_timeout=60.0,
        )

    def annotate(self, task_id: int, label: str, *, rotation: float = 0.0) -> dict:
        result = [
            {
                "id": f"box{task_id}",
                "from_name": "label",
                "to_name": "image",
                "type": "rectanglelabels",
                "original_width": 64,
                "original_height": 48,
                "image_rotation": 0,
                "value": {
                    "x": 25.0,
                    "y": 25.0,
                    "width": 40.0,
                    "height": 30.0,
                    "rotation": rotation,
                    "rectanglelabels": [label],
                },
            }
        ]
        return self.api("POST", f"/api/tasks/{task_id}/annotations/", json={"result": result}).json()


def seed_project(server: LabelStudioServer) -> Iterator[Seeded]:
    files = FileServer().start()
    try:
        seed = Seeded(server, files, project=0)
        # Projects 1 and 2 exist so that the interesting one is project 3, as in the docs.
        for title in ("first", "second", "detection"):
            created = seed.api("POST", "/api/projects/", json={"title": title, "label_config": CONFIG}).json()
        seed.project = created["id"]
        assert seed.project == 3

        uploaded = png((200, 30, 30), (64, 48))
        seed.api("POST", f"/api/projects/{seed.project}/import", files={"upload.png": ("upload.png", uploaded)})

        photos = server.document_root / "photos"
        photos.mkdir(exist_ok=True)
        local_bodies = {"a.png": png((30, 200, 30), (64, 48)), "b.png": png((30, 30, 200), (64, 48))}
        for name, body in local_bodies.items():
            (photos / name).write_bytes(body)
        storage = seed.api(
            "POST",
            "/api/storages/localfiles/",
            json={
                "project": seed.project,
                "path": str(photos),
                "title": "photos",
                "regex_filter": r".*\.png",
                "use_blob_urls": True,
            },
        ).json()
        seed.api("POST", f"/api/storages/localfiles/{storage['id']}/sync")

        remote_bodies = {f"/remote/{n}.png": png((n * 60, 120, 90), (64, 48)) for n in (1, 2, 3)}
        for path, body in remote_bodies.items():
            files.add(path, body=body)
        seed.api(
            "POST",
            f"/api/projects/{seed.project}/import",
            json=[{"image": files.url(path)} for path in remote_bodies],
        )

        tasks = seed.api("GET", "/api/tasks", params={"project": seed.project, "page_size": 100}).json()["tasks"]
        assert len(tasks) == 6
        for task in tasks:
            image = task["data"]["image"]
            if image.startswith("/data/upload/"):
                seed.originals[task["id"]] = uploaded
            elif "/data/local-files/?d=" in image:  # absolute, on LABEL_STUDIO_HOST
                seed.originals[task["id"]] = local_bodies[image.rsplit("/", 1)[-1]]
            else:
                assert image.startswith(files.origin), image
                seed.originals[task["id"]] = remote_bodies["/remote/" + image.rsplit("/", 1)[-1]]
        ids = sorted(seed.originals)
        seed.unannotated = ids[-1]
        seed.rotated = ids[0]
        for task_id in ids[:-1]:
            seed.annotate(task_id, "cat" if task_id % 2 else "dog", rotation=30.0 if task_id == seed.rotated else 0.0)
        seed.api(
            "POST",
            "/api/predictions/",
            json={
                "task": ids[1],
                "model_version": "v1",
                "score": 0.5,
                "result": [
                    {
                        "from_name": "label",
                        "to_name": "image",
                        "type": "rectanglelabels",
                        "original_width": 64,
                        "original_height": 48,
                        "value": {"x": 1, "y": 1, "width": 10, "height": 10, "rectanglelabels": ["dog"]},
                    }
                ],
            },
        )
        yield seed
    finally:
        files.stop()
