/*
 * moonshine.h — Moonshine speech recognition on the nn engine: the encoder/decoder ONNX pair
 * of moonshine-js (tiny, English), greedy decoding with the decoder's KV cache, and the
 * SentencePiece vocabulary that turns tokens into text. See docs/nn.md for how the pair is
 * driven. The model (weights + vocabulary) is immutable and shared; each thread decodes with
 * its own nn_moonshine_run.
 */
#ifndef STEPD_NN_MOONSHINE_H
#define STEPD_NN_MOONSHINE_H

#include <stddef.h>

typedef struct nn_moonshine nn_moonshine;
typedef struct nn_moonshine_run nn_moonshine_run;

#define NN_MOONSHINE_RATE 16000
#define NN_MOONSHINE_INSTALL "packages/nn.data.sh (run by scripts/install-deps.sh)"

/* The model directory: dir if not NULL, else $STEPD_NN_MODEL_DIR, else
 * build-data/nn/moonshine-tiny under $STEPD_ROOT or the current directory, else
 * /var/lib/stepd/nn/moonshine-tiny. Static or borrowed string. */
const char *nn_moonshine_default_dir(const char *dir);

/* Loads encoder_model.onnx, decoder_model_merged.onnx and tokenizer.txt from dir (see
 * nn_moonshine_default_dir). A missing model is STEP_ENOTFOUND with a message naming the
 * install command. Caller frees with nn_moonshine_free. */
int nn_moonshine_load(const char *dir, nn_moonshine **out, char **err);
void nn_moonshine_free(nn_moonshine *m);

int nn_moonshine_run_new(const nn_moonshine *m, int nthreads, nn_moonshine_run **out, char **err);
void nn_moonshine_run_free(nn_moonshine_run *r);
/* Buffers the run's two sessions have allocated since it was created: after a warm-up
 * transcription, one of the same length or shorter allocates none (tests). */
size_t nn_moonshine_run_allocs(const nn_moonshine_run *r);

typedef struct nn_moonshine_result {
    char *text;   /* UTF-8, leading/trailing spaces trimmed (caller frees) */
    int *tokens;  /* generated ids without the start/end tokens (caller frees) */
    float *probs; /* per token: its softmax probability (caller frees) */
    int n_tokens;
    int hit_max_len; /* stopped by the length guard, not by the end token */
    double encode_ms, decode_ms;
} nn_moonshine_result;

void nn_moonshine_result_free(nn_moonshine_result *r);

/* Recognises one utterance of 16 kHz mono float samples in [-1, 1] (best up to ~25-30 s;
 * nn_moonshine_transcribe_long cuts longer audio). Fewer than 0.1 s of audio gives an empty
 * result. */
int nn_moonshine_transcribe(nn_moonshine_run *r, const float *samples, size_t n,
                            nn_moonshine_result *out, char **err);

/* Token ids -> text (the vocabulary's pieces, U+2581 as space, <0xNN> byte pieces). Caller
 * frees. */
char *nn_moonshine_detokenize(const nn_moonshine *m, const int *ids, int n);

/* Where to cut audio longer than max_samples: the start of the quietest 300 ms window in the
 * last half of [0, max_samples). Returns a cut point in (0, n]. */
size_t nn_moonshine_cut_point(const float *samples, size_t n, size_t max_samples);

#endif
