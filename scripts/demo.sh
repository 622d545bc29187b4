#!/usr/bin/env bash
# Set up ml-data and run it on the bundled examples:
# 1. examples/detection/: `ml-data fetch` turns the export (images on a Local Files storage, a
#    mounted upload and an external link) into YOLO and COCO datasets under out/, images and
#    manifest included, then runs again to show an unchanged dataset is left as it is;
# 2. examples/tasks.json: every resource the tasks reference (Local Files storage, a mounted upload,
#    an external link, a data: URI) is resolved to a verified local file; downloads land in the
#    cache (.ml-data-cache/ unless ML_DATA_CACHE_DIR);
# 3. examples/ner/: a small NER export converted to CoNLL 2003 and CSV under out/;
# 4. examples/detection/: boxes (one rotated) and a polygon converted to COCO and YOLO-seg.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh

export LOCAL_FILES_DOCUMENT_ROOT="$PWD/examples/media"
export ML_DATA_UPLOAD_DIR="$PWD/examples/media/upload"
export ML_DATA_CACHE_DIR="${ML_DATA_CACHE_DIR:-$PWD/.ml-data-cache}"

# The "external" link is served by a file server on loopback for the length of the demo. Its port
# is part of the link, so the same port every run keeps a second run's dataset unchanged; a free
# one is taken only when that one is busy.
port=${ML_DATA_DEMO_PORT:-18765}
if ! .venv/bin/python -c "import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', $port))" 2>/dev/null; then
    port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "port ${ML_DATA_DEMO_PORT:-18765} is busy: serving the example link on $port (a rerun will see changed URLs)"
fi
.venv/bin/python -m http.server --bind 127.0.0.1 --directory examples/media "$port" >/dev/null 2>&1 &
server_pid=$!
work=$(mktemp -d)
trap 'kill "$server_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do
    if .venv/bin/python -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
        break
    fi
    sleep 0.1
done

sed "s#__FILE_SERVER__#http://127.0.0.1:$port#g" examples/tasks.json > "$work/tasks.json"
sed "s#__FILE_SERVER__#http://127.0.0.1:$port#g" examples/detection/export.json > "$work/detection.json"

echo "== ml-data fetch: examples/detection -> out/example-dataset-yolo (split) and out/example-dataset-coco"
.venv/bin/ml-data fetch --export "$work/detection.json" --config examples/detection/label_config.xml \
    --format yolo --split train=0.7,val=0.3 --out out/example-dataset-yolo
.venv/bin/ml-data fetch --export "$work/detection.json" --config examples/detection/label_config.xml \
    --format coco --out out/example-dataset-coco
find out/example-dataset-yolo -type f | sort
echo "-- again, on the unchanged export:"
.venv/bin/ml-data fetch --export "$work/detection.json" --config examples/detection/label_config.xml \
    --format yolo --split train=0.7,val=0.3 --out out/example-dataset-yolo

echo "== Resolving the resources of examples/tasks.json (cache: $ML_DATA_CACHE_DIR)"
.venv/bin/ml-data resolve --json --tasks "$work/tasks.json"

echo "== Converting examples/ner/export.json"
for format in conll2003 csv; do
    .venv/bin/ml-data convert examples/ner/export.json --config examples/ner/label_config.xml \
        --format "$format" --out "out/example-ner-$format"
done
head -n 12 out/example-ner-conll2003/result.conll

echo "== Converting examples/detection/export.json"
for format in coco yolo-seg; do
    .venv/bin/ml-data convert "$work/detection.json" --config examples/detection/label_config.xml \
        --format "$format" --out "out/example-detection-$format"
done
cat out/example-detection-yolo-seg/labels/*.txt
