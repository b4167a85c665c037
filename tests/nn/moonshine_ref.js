// moonshine_ref.js — the reference Moonshine transcription with onnxruntime-node, driven the
// way moonshine-js drives it (start token 1, KV cache, greedy, stop on 2, at most
// trunc(seconds * 6) steps), on 16 kHz mono 16-bit WAV files. Used by the nn tests and
// bench/nn.sh to compare tokens and speed with stepd's own engine.
//   node tests/nn/moonshine_ref.js MODEL_DIR FILE.wav... [--threads N]
// Prints one JSON line per file: {"file","tokens":[...],"encodeMs","decodeMs","seconds"},
// then {"loadMs","rssMB"}.
"use strict";
const fs = require("fs"), path = require("path");
function loadOrt() {
  const here = path.resolve(__dirname, "../../build-data/nn/ort/node_modules/onnxruntime-node");
  try { return require(here); } catch (e) { return require("onnxruntime-node"); }
}
function readWav(file) {
  const b = fs.readFileSync(file);
  if (b.toString("ascii", 0, 4) !== "RIFF" || b.toString("ascii", 8, 12) !== "WAVE")
    throw new Error(file + ": not a WAV file");
  let off = 12, fmt = null;
  while (off + 8 <= b.length) {
    const id = b.toString("ascii", off, off + 4), len = b.readUInt32LE(off + 4);
    if (id === "fmt ") fmt = { ch: b.readUInt16LE(off + 10), rate: b.readUInt32LE(off + 12), bits: b.readUInt16LE(off + 22) };
    if (id === "data") {
      if (!fmt || fmt.ch !== 1 || fmt.rate !== 16000 || fmt.bits !== 16)
        throw new Error(file + ": want 16 kHz mono 16-bit PCM");
      const n = Math.floor(Math.min(len, b.length - off - 8) / 2), x = new Float32Array(n);
      for (let i = 0; i < n; i++) x[i] = b.readInt16LE(off + 8 + 2 * i) / 32768;
      return x;
    }
    off += 8 + len + (len & 1);
  }
  throw new Error(file + ": no data chunk");
}
async function main() {
  const args = process.argv.slice(2);
  const ti = args.indexOf("--threads");
  const threads = ti >= 0 ? +args.splice(ti, 2)[1] : 2;
  const [dir, ...files] = args;
  const ort = loadOrt();
  const opts = { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: "sequential" };
  const t0 = Date.now();
  const enc = await ort.InferenceSession.create(path.join(dir, "encoder_model.onnx"), opts);
  const dec = await ort.InferenceSession.create(path.join(dir, "decoder_model_merged.onnx"), opts);
  const loadMs = Date.now() - t0;
  for (const file of files) {
    const x = readWav(file);
    const t1 = process.hrtime.bigint();
    const h = (await enc.run({ input_values: new ort.Tensor("float32", x, [1, x.length]) })).last_hidden_state;
    const t2 = process.hrtime.bigint();
    const feeds = { encoder_hidden_states: h };
    for (let l = 0; l < 6; l++)
      for (const k of ["decoder.key", "decoder.value", "encoder.key", "encoder.value"])
        feeds[`past_key_values.${l}.${k}`] = new ort.Tensor("float32", new Float32Array(0), [1, 8, 0, 36]);
    const maxLen = Math.trunc(x.length / 16000 * 6), tokens = [];
    let tok = 1n;
    for (let step = 0; step < maxLen; step++) {
      feeds.input_ids = new ort.Tensor("int64", BigInt64Array.from([tok]), [1, 1]);
      feeds.use_cache_branch = new ort.Tensor("bool", [step > 0], [1]);
      const out = await dec.run(feeds);
      const z = out.logits.data;
      let best = 0;
      for (let v = 1; v < z.length; v++) if (z[v] > z[best]) best = v;
      if (best === 2) break;
      tokens.push(best);
      tok = BigInt(best);
      for (let l = 0; l < 6; l++)
        for (const k of step === 0 ? ["decoder.key", "decoder.value", "encoder.key", "encoder.value"] : ["decoder.key", "decoder.value"])
          feeds[`past_key_values.${l}.${k}`] = out[`present.${l}.${k}`];
    }
    const t3 = process.hrtime.bigint();
    console.log(JSON.stringify({ file, tokens, encodeMs: Number(t2 - t1) / 1e6, decodeMs: Number(t3 - t2) / 1e6, seconds: x.length / 16000 }));
  }
  console.log(JSON.stringify({ loadMs, rssMB: process.memoryUsage().rss / 1048576 }));
}
main().catch(e => { console.error("moonshine_ref: " + (e && e.message || e)); process.exit(1); });
