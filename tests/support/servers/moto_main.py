"""moto's server, answering CompleteMultipartUpload as S3 does.

moto 5.2.5's server names the root element of that answer ``CompleteMultipartUploadResponse``;
S3 names it ``CompleteMultipartUploadResult``. boto3 reads either, but the AWS SDK for C++ (under
pyarrow's S3 file system) takes any other root as an error hidden in a 200 and retries until it
fails, so every multipart upload of pyarrow would fail against the emulator. Run as
``python -m tests.support.servers.moto_main -H 127.0.0.1 -p PORT``."""

from __future__ import annotations

from typing import Any

from moto.core import serialize
from moto.server import main

_original = serialize.BaseXMLSerializer._serialized_result_to_response


def _as_s3_names_it(self: Any, resp: Any, result: Any, shape: Any, serialized_result: Any) -> Any:
    answer = _original(self, resp, result, shape, serialized_result)
    if self.operation_model.name == "CompleteMultipartUpload" and isinstance(answer.get("body"), str | bytes):
        body = answer["body"]
        old, new = "CompleteMultipartUploadResponse", "CompleteMultipartUploadResult"
        answer["body"] = body.replace(old, new) if isinstance(body, str) else body.replace(old.encode(), new.encode())
    return answer


serialize.BaseXMLSerializer._serialized_result_to_response = _as_s3_names_it  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
