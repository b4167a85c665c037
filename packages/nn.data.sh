#!/usr/bin/env bash
# nn: installs the Moonshine-tiny model and the tokenizer vocabulary from the npm registry into
# build-data/nn/ (gitignored; override with STEPD_NN_DATA=DIR). Run by scripts/install-deps.sh,
# never at run time. Also installs onnxruntime-node (--ignore-scripts) into build-data/nn/ort for
# the reference tests and bench/nn.sh when its native binary ships inside the npm package.
#   build-data/nn/moonshine-tiny/encoder_model.onnx, decoder_model_merged.onnx, tokenizer.txt
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${STEPD_NN_DATA:-$PWD/build-data/nn}
MODEL=$DATA/moonshine-tiny
mkdir -p "$MODEL"
command -v npm >/dev/null || { echo "nn.data.sh: npm not found (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
if [ ! -s "$MODEL/encoder_model.onnx" ] || [ ! -s "$MODEL/decoder_model_merged.onnx" ]; then
    (cd "$tmp" && npm pack --silent @moonshine-ai/moonshine-js@0.1.29 >/dev/null)
    tar -xzf "$tmp"/moonshine-ai-moonshine-js-0.1.29.tgz -C "$tmp" \
        package/dist/model/tiny/quantized/encoder_model.onnx \
        package/dist/model/tiny/quantized/decoder_model_merged.onnx
    mv "$tmp"/package/dist/model/tiny/quantized/*.onnx "$MODEL/"
fi
if [ ! -s "$MODEL/tokenizer.txt" ]; then
    (cd "$tmp" && npm pack --silent llama-tokenizer-js@1.2.2 >/dev/null && tar -xzf llama-tokenizer-js-1.2.2.tgz)
    # The vocabulary is embedded in the JS as base64 (one piece a line); write it out as
    # "id<TAB>piece" lines, with the SentencePiece space mark kept as U+2581.
    node -e '
      const fs = require("fs"), path = require("path");
      const dir = process.argv[1];
      const files = fs.readdirSync(dir).filter(f => f.endsWith(".js"));
      let b64 = null;
      for (const f of files) {
        const s = fs.readFileSync(path.join(dir, f), "utf8");
        const m = s.match(/vocab_base64\s*=\s*["\x27`]([A-Za-z0-9+\/=]+)["\x27`]/);
        if (m) { b64 = m[1]; break; }
      }
      if (!b64) { console.error("nn.data.sh: no vocab_base64 in llama-tokenizer-js"); process.exit(1); }
      const lines = Buffer.from(b64, "base64").toString("utf8").split("\n");
      let out = "";
      lines.forEach((p, i) => { out += i + "\t" + p.replace(/\\/g, "\\\\").replace(/\t/g, "\\t") + "\n"; });
      fs.writeFileSync(process.argv[2], out);
    ' "$tmp/package" "$MODEL/tokenizer.txt"
fi
if [ ! -d "$DATA/ort/node_modules/onnxruntime-node" ]; then
    mkdir -p "$DATA/ort"
    (cd "$DATA/ort" && npm install --silent --no-save --ignore-scripts onnxruntime-node@1.30.0 >/dev/null) ||
        echo "nn.data.sh: onnxruntime-node not installed (reference tests will skip)" >&2
fi
echo "nn.data.sh: model in $MODEL"
