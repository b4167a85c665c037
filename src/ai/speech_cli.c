/*
 * speech_cli.c — `stepd ai speak TEXT -o OUT.wav [--voice V] [--engine flite|espeak]
 * [--rate R] [--pitch P] [--lang L]`, `stepd ai speak --voices`, and
 * `stepd ai transcribe FILE|-` (prints the transcript JSON). Both print JSON on stdout.
 */
#include "ai/ai_cli.h"
#include "ai/speech_asr_moonshine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>
#include <stepd/ai/speech.h>
#include <stepd/step.h>

static const char speak_usage[] =
    "usage: stepd ai speak TEXT|- -o OUT.wav [--voice V] [--engine flite|espeak]\n"
    "                      [--lang L] [--rate R] [--pitch P]\n"
    "       stepd ai speak --voices\n"
    "Synthesises TEXT (\"-\" reads stdin) to a 16-bit mono WAV file and prints\n"
    "{\"file\",\"engine\",\"voice\",\"sampleRate\",\"samples\",\"durationSec\"}.\n"
    "  --voice V    flite: slt (default), rms, awb, kal16; espeak: a language or voice (de, fr)\n"
    "  --engine E   flite (English, default) or espeak (other languages)\n"
    "  --lang L     language code; a non-English one selects espeak\n"
    "  --rate R     speaking-rate multiplier (1 = normal, 0.25..4)\n"
    "  --pitch P    pitch multiplier (1 = normal, 0.5..2)\n";

static const char transcribe_usage[] =
    "usage: stepd ai transcribe FILE|- [--engine pocketsphinx|moonshine] [--model DIR]\n"
    "Recognises English speech in FILE (wav, flac, ogg, mp3, m4a, webm, ...; \"-\" reads\n"
    "stdin) and prints {\"text\",\"words\":[{\"word\",\"start\",\"end\",\"confidence\"}],\n"
    "\"language\",\"durationSec\",...}. Silence or noise prints noSpeech: true.\n"
    "  --engine E   moonshine (default once packages/nn.data.sh installed it) or pocketsphinx\n"
    "  --model DIR  model directory (moonshine: build-data/nn/moonshine-tiny; pocketsphinx:\n"
    "               /usr/share/pocketsphinx/model/en-us)\n";

static char *read_all(FILE *f, size_t *len) {
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
        if (n == cap) {
            char *t = realloc(buf, cap * 2 + 1);
            if (!t) {
                free(buf);
                return NULL;
            }
            buf = t;
            cap *= 2;
        }
    }
    if (buf)
        buf[n] = 0;
    *len = n;
    return buf;
}

static void print_json(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    if (s)
        puts(s);
    free(s);
}

int ai_cli_speak(int argc, char **argv) {
    stepd_speech_synth_opts o = {0};
    const char *text = NULL, *outp = NULL;
    int voices = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(speak_usage, stdout);
            return 0;
        } else if (!strcmp(a, "--voices")) {
            voices = 1;
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && more) {
            outp = argv[++i];
        } else if (!strcmp(a, "--voice") && more) {
            o.voice = argv[++i];
        } else if (!strcmp(a, "--engine") && more) {
            o.engine = argv[++i];
        } else if ((!strcmp(a, "--lang") || !strcmp(a, "--language")) && more) {
            o.language = argv[++i];
        } else if ((!strcmp(a, "--rate") || !strcmp(a, "--pitch")) && more) {
            char *end;
            double v = strtod(argv[++i], &end);
            if (*end || v <= 0) {
                fprintf(stderr, "stepd ai speak: %s wants a positive number, not '%s'\n", a,
                        argv[i]);
                return 2;
            }
            *(a[2] == 'r' ? &o.rate : &o.pitch) = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stepd ai speak: unknown or incomplete option '%s'\n%s", a,
                    speak_usage);
            return 2;
        } else if (!text) {
            text = a;
        } else {
            fprintf(stderr, "stepd ai speak: one TEXT argument only (quote it)\n%s", speak_usage);
            return 2;
        }
    }
    if (voices) {
        json_t *v;
        if (stepd_speech_voices(&v))
            return 1;
        print_json(v);
        json_decref(v);
        return 0;
    }
    if (!text || !outp) {
        fprintf(stderr, "stepd ai speak: %s\n%s",
                !text ? "TEXT is missing" : "-o OUT.wav is missing", speak_usage);
        return 2;
    }
    char *in = NULL;
    if (!strcmp(text, "-")) {
        size_t n;
        in = read_all(stdin, &n);
        if (!in) {
            fprintf(stderr, "stepd ai speak: cannot read stdin\n");
            return 1;
        }
        text = in;
    }
    stepd_speech_audio a;
    char *err = NULL;
    int rc = stepd_speech_synthesize(text, &o, &a, &err);
    free(in);
    if (!rc)
        rc = stepd_speech_wav_write(&a, outp, &err);
    if (rc) {
        fprintf(stderr, "stepd ai speak: %s\n", err ? err : step_strerror(rc));
        free(err);
        stepd_speech_audio_free(&a);
        return 1;
    }
    int espeak = a.sample_rate != 16000 || (o.engine && !strncmp(o.engine, "espeak", 6));
    json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:I,s:f}", "file", outp, "engine",
                          espeak ? "espeak" : "flite", "voice",
                          o.voice  ? o.voice
                          : espeak ? (o.language ? o.language : "en")
                                   : "slt",
                          "sampleRate", a.sample_rate, "samples", (json_int_t)a.n_samples,
                          "durationSec", a.duration_sec);
    print_json(j);
    json_decref(j);
    stepd_speech_audio_free(&a);
    return 0;
}

int ai_cli_transcribe(int argc, char **argv) {
    const char *file = NULL, *model = NULL, *engine = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(transcribe_usage, stdout);
            return 0;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
            model = argv[++i];
        } else if (!strcmp(argv[i], "--engine") && i + 1 < argc) {
            engine = argv[++i];
            if (strcmp(engine, "pocketsphinx") && strcmp(engine, "moonshine")) {
                fprintf(stderr, "stepd ai transcribe: --engine is pocketsphinx or moonshine\n");
                return 2;
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "stepd ai transcribe: unknown option '%s'\n%s", argv[i],
                    transcribe_usage);
            return 2;
        } else if (!file) {
            file = argv[i];
        } else {
            fprintf(stderr, "stepd ai transcribe: one FILE only\n%s", transcribe_usage);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "stepd ai transcribe: FILE is missing\n%s", transcribe_usage);
        return 2;
    }
    av_log_set_level(AV_LOG_QUIET);
    stepd_speech_recognizer *rec = NULL;
    char *err = NULL;
    const stepd_speech_recognizer_vtable *vt =
        !engine ? NULL : !strcmp(engine, "moonshine") ? &stepd_speech_moonshine
                                                      : &stepd_speech_pocketsphinx;
    int rc = stepd_speech_recognizer_open(vt, model, &rec, &err);
    stepd_speech_transcript t;
    if (!rc) {
        if (!strcmp(file, "-")) {
            size_t n;
            char *buf = read_all(stdin, &n);
            rc = buf ? stepd_speech_transcribe_mem(rec, buf, n, "stdin", &t, &err) : STEP_ENOMEM;
            free(buf);
        } else {
            rc = stepd_speech_transcribe_file(rec, file, &t, &err);
        }
    }
    stepd_speech_recognizer_close(rec);
    if (rc) {
        fprintf(stderr, "stepd ai transcribe: %s\n", err ? err : step_strerror(rc));
        free(err);
        return 1;
    }
    json_t *j = stepd_speech_transcript_json(&t);
    print_json(j);
    json_decref(j);
    stepd_speech_transcript_free(&t);
    return 0;
}
