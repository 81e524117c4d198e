#!/bin/sh
# Regenerates model/qwen2/testdata/tiny_seed1_tensors.json: every tensor's name,
# dtype, shape and SHA-256 in the model `ragtune model init --preset tiny
# --seed 1` writes. The hashes are computed by Python from the safetensors
# bytes (its own header parser), not by ragtune's reader.
#
#   sh scripts/formats_golden_tiny.sh        (from the repository root)
#
# Set RAGTUNE=/path/to/ragtune to use a prebuilt binary.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -z "${RAGTUNE:-}" ]; then
	go build -o "$tmp/ragtune" ./cmd/ragtune
	RAGTUNE="$tmp/ragtune"
fi
"$RAGTUNE" model init --preset tiny --seed 1 --out "$tmp/tiny"
python3 - "$tmp/tiny/model.safetensors" > model/qwen2/testdata/tiny_seed1_tensors.json <<'PY'
import hashlib, json, struct, sys
with open(sys.argv[1], "rb") as f:
    data = f.read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
header.pop("__metadata__", None)
rows = []
for name in sorted(header):
    t = header[name]
    a, b = t["data_offsets"]
    blob = data[8 + n + a:8 + n + b]
    rows.append({"name": name, "dtype": t["dtype"], "shape": t["shape"],
                 "sha256": hashlib.sha256(blob).hexdigest()})
print(json.dumps(rows, indent=1))
PY
echo "wrote model/qwen2/testdata/tiny_seed1_tensors.json ($(grep -c '"name"' model/qwen2/testdata/tiny_seed1_tensors.json) tensors)"
