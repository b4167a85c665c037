#!/usr/bin/env bash
# bench/speech.sh — real-time factor (processing time / audio duration; lower is faster) of
# stepd's speech synthesis and recognition against the flite and pocketsphinx_continuous
# command-line tools on the same text and the same audio, in the same run. Also the word
# error rate of both recognisers on that audio. Prints a table and appends it to
# bench/RESULTS.md. Single-threaded everywhere; about a minute on an idle 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPD=${STEPD_BIN:-$PWD/$BUILD/stepd}
PY=/usr/bin/python3
MODEL=/usr/share/pocketsphinx/model/en-us
[ -x "$STEPD" ] || { echo "bench/speech: build $STEPD first (make BUILD=$BUILD)"; exit 1; }
for t in flite pocketsphinx_continuous; do
    command -v $t >/dev/null || { echo "bench/speech: $t is not installed (packages/speech.apt)"; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ~60 s of varied English from the round-trip test's sentences, repeated once
sed -n 's/^    "\(.*\)",$/\1/p' tests/unit/test_speech_wer.c > "$tmp/s.txt"
cat "$tmp/s.txt" "$tmp/s.txt" | head -n 30 > "$tmp/text.txt"

# run CMD... ; prints "wall user" seconds
timed() { /usr/bin/time -f "%e %U" -o "$tmp/t" "$@" >"$tmp/out" 2>/dev/null; cat "$tmp/t"; }
dur() { $PY -c 'import wave,sys; w=wave.open(sys.argv[1]); print(w.getnframes()/w.getframerate())' "$1"; }
wer() { $PY - "$tmp/text.txt" "$1" <<'PY'
import re, sys
ref = re.findall(r"[a-z']+", open(sys.argv[1]).read().lower())
hyp = re.findall(r"[a-z']+", open(sys.argv[2]).read().lower())
d = list(range(len(hyp) + 1))
for i, r in enumerate(ref, 1):
    prev, d[0] = d[0], i
    for j, h in enumerate(hyp, 1):
        prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
print(f"{d[-1] / len(ref):.3f}")
PY
}

read -r s_wall s_user < <(timed "$STEPD" ai speak - -o "$tmp/stepd.wav" --voice slt < "$tmp/text.txt")
read -r f_wall f_user < <(timed flite -voice slt -f "$tmp/text.txt" -o "$tmp/flite.wav")
sd=$(dur "$tmp/stepd.wav"); fd=$(dur "$tmp/flite.wav")

# recognition, all on flite's WAV
audio="$tmp/flite.wav"
read -r r_wall r_user < <(timed "$STEPD" ai transcribe "$audio")
$PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["text"])' "$tmp/out" > "$tmp/stepd.txt"
ps_args=(-infile "$audio" -hmm $MODEL/en-us -lm $MODEL/en-us.lm.bin -dict $MODEL/cmudict-en-us.dict)
read -r p_wall p_user < <(timed pocketsphinx_continuous "${ps_args[@]}")
cp "$tmp/out" "$tmp/ps.txt"
read -r q_wall q_user < <(timed pocketsphinx_continuous "${ps_args[@]}" -maxhmmpf 3000 -maxwpf 10)
cp "$tmp/out" "$tmp/ps2.txt"
w_stepd=$(wer "$tmp/stepd.txt"); w_ps=$(wer "$tmp/ps.txt"); w_ps2=$(wer "$tmp/ps2.txt")

rtf() { $PY -c "print(f'{$1/$2:.4f}')"; }
ratio() { $PY -c "print(f'{$1/$2:.2f}x')"; }
table=$(cat <<T
| task | tool | audio s | wall s | CPU s | RTF wall | RTF CPU | WER |
|---|---|---|---|---|---|---|---|
| synthesis (slt, 30 sentences) | stepd ai speak | $sd | $s_wall | $s_user | $(rtf $s_wall $sd) | $(rtf $s_user $sd) | |
| synthesis (slt, 30 sentences) | flite CLI | $fd | $f_wall | $f_user | $(rtf $f_wall $fd) | $(rtf $f_user $fd) | |
| recognition | stepd ai transcribe | $fd | $r_wall | $r_user | $(rtf $r_wall $fd) | $(rtf $r_user $fd) | $w_stepd |
| recognition | pocketsphinx_continuous (defaults) | $fd | $p_wall | $p_user | $(rtf $p_wall $fd) | $(rtf $p_user $fd) | $w_ps |
| recognition | pocketsphinx_continuous (stepd's beams) | $fd | $q_wall | $q_user | $(rtf $q_wall $fd) | $(rtf $q_user $fd) | $w_ps2 |

stepd / peer CPU time (lower is better for stepd): synthesis $(ratio $s_user $f_user), recognition $(ratio $r_user $p_user) vs pocketsphinx defaults, $(ratio $r_user $q_user) vs the same beams. Wall times: $(ratio $s_wall $f_wall), $(ratio $r_wall $p_wall), $(ratio $r_wall $q_wall). Both sides include process start and model loading.
T
)
echo "$table"
{
    echo
    echo "## speech — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m), load $(cut -d' ' -f1 /proc/loadavg)"
    echo
    echo "$table"
} >> bench/RESULTS.md
echo "appended to bench/RESULTS.md"
