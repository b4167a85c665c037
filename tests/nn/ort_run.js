// ort_run.js — runs an ONNX model with onnxruntime-node (the reference for src/nn) on inputs
// written by the C tests, and writes its outputs back the same way.
//   node tests/nn/ort_run.js MODEL.onnx DIR [--threads N] [--repeat N]
// DIR/inputs.json: [{"name", "dtype", "dims", "file"}] with raw little-endian data in DIR/file;
// writes DIR/outputs.json (same form, files out_<i>.bin) and prints {"ms": per-run time}.
// onnxruntime-node comes from build-data/nn/ort (packages/nn.data.sh) or NODE_PATH.
"use strict";
const fs = require("fs"), path = require("path");
function loadOrt() {
  const here = path.resolve(__dirname, "../../build-data/nn/ort/node_modules/onnxruntime-node");
  try { return require(here); } catch (e) { return require("onnxruntime-node"); }
}
const TYPES = {
  float32: Float32Array, uint8: Uint8Array, int8: Int8Array, int32: Int32Array,
  int64: BigInt64Array, bool: Uint8Array,
};
async function main() {
  const [model, dir] = process.argv.slice(2);
  const opt = (k, d) => { const i = process.argv.indexOf(k); return i > 0 ? +process.argv[i + 1] : d; };
  const ort = loadOrt();
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: opt("--threads", 2), interOpNumThreads: 1, executionMode: "sequential",
    graphOptimizationLevel: process.env.STEPD_NN_ORT_OPT || "all",
  });
  const spec = JSON.parse(fs.readFileSync(path.join(dir, "inputs.json"), "utf8"));
  const feeds = {};
  for (const s of spec) {
    const buf = fs.readFileSync(path.join(dir, s.file));
    const T = TYPES[s.dtype];
    const copy = new Uint8Array(buf.length);
    copy.set(buf);
    let data = new T(copy.buffer, 0, buf.length / T.BYTES_PER_ELEMENT);
    if (s.dtype === "bool") data = Array.from(data, v => v !== 0);
    feeds[s.name] = new ort.Tensor(s.dtype, data, s.dims);
  }
  const repeat = opt("--repeat", 1);
  let res, t0 = process.hrtime.bigint();
  for (let r = 0; r < repeat; r++) res = await sess.run(feeds);
  const ms = Number(process.hrtime.bigint() - t0) / 1e6 / repeat;
  const outs = [];
  sess.outputNames.forEach((name, i) => {
    const t = res[name];
    const file = `out_${i}.bin`;
    let bytes;
    if (t.type === "bool") bytes = Buffer.from(Uint8Array.from(t.data, v => (v ? 1 : 0)));
    else bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    fs.writeFileSync(path.join(dir, file), bytes);
    outs.push({ name, dtype: t.type, dims: t.dims.map(Number), file });
  });
  fs.writeFileSync(path.join(dir, "outputs.json"), JSON.stringify(outs));
  console.log(JSON.stringify({ ms }));
}
main().catch(e => { console.error("ort_run: " + (e && e.message || e)); process.exit(1); });
