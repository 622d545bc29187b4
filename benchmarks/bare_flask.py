"""The framework's ceiling for bench_service.py: Flask under waitress sending one file, nothing else
(no authentication, no URL checks, no cache lookup).

    python benchmarks/bare_flask.py FILE PORT
"""

from __future__ import annotations

import sys

import waitress
from flask import Flask, send_file


def main() -> None:
    path, port = sys.argv[1], int(sys.argv[2])
    app = Flask("bare")

    @app.get("/file")
    def serve():  # type: ignore[no-untyped-def]
        return send_file(path, conditional=True, max_age=0)

    waitress.serve(app, host="127.0.0.1", port=port, threads=16, _quiet=True)


if __name__ == "__main__":
    main()
