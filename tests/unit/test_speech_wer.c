/* test_speech_wer.c — the real round trip: English sentences rendered by each flite voice,
 * written as WAV, decoded and recognised by stepd's own pipeline (ffmpeg decode, detector,
 * the default recogniser: Moonshine when its model is installed, else pocketsphinx). Prints the word error rate per voice and pooled; the pooled rate must stay
 * under 0.20. espeak-ng is not in the round trip (pocketsphinx cannot hear its formant
 * voices); test_speech.c checks its synthesis. Under ASan a subset of sentences runs, and the
 * test says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/log.h>
#include <stepd/ai/speech.h>
#include <stepd/step.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static const char *sentences[] = {
    "The meeting has been moved to Thursday afternoon.",
    "Please send the report to the finance team before noon.",
    "Can you call me back when you get this message?",
    "The weather will be cold and windy tomorrow morning.",
    "Your package was delivered to the front door.",
    "I would like to book a table for two people tonight.",
    "The train to Boston leaves from platform seven.",
    "We need to buy milk, bread and eggs at the store.",
    "Turn left at the next light and park behind the building.",
    "My password does not work on the new computer.",
    "She plays the piano every evening after dinner.",
    "The doctor will see you in about ten minutes.",
    "Remember to water the plants while I am away.",
    "How much does it cost to ship this box to Canada?",
    "Our flight was delayed because of the heavy snow.",
    "Please confirm your order by replying to this email.",
    "The museum opens at nine and closes at five.",
    "I think we should start the project next week.",
    "Thank you for your help with the presentation.",
    "Let me know if you have any questions about the invoice.",
};
#define N_SENT (sizeof(sentences) / sizeof(sentences[0]))

/* Lower-cases and splits into words, dropping punctuation; returns the count. */
static size_t words_of(const char *s, char words[][32], size_t max) {
    size_t n = 0, len = 0;
    for (;; s++) {
        int c = (unsigned char)*s;
        if (isalpha(c) || c == '\'') {
            if (len < 31)
                words[n][len++] = (char)tolower(c);
        } else {
            if (len && n < max) {
                words[n][len] = 0;
                n++;
            }
            len = 0;
            if (!c || n == max)
                break;
        }
    }
    return n;
}

/* Word-level Levenshtein distance. */
static size_t edit_distance(char ref[][32], size_t nr, char hyp[][32], size_t nh) {
    size_t d[64][64];
    for (size_t i = 0; i <= nr; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= nh; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= nr; i++)
        for (size_t j = 1; j <= nh; j++) {
            size_t sub = d[i - 1][j - 1] + (strcmp(ref[i - 1], hyp[j - 1]) != 0);
            size_t del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
            d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
    return d[nr][nh];
}

static void test_round_trip_word_error_rate(void **state) {
    (void)state;
    const char *voices[] = {"slt", "rms", "awb", "kal16"};
    size_t n_sent = UNDER_ASAN ? 5 : N_SENT;
    if (UNDER_ASAN)
        print_message("ASan build: %zu of %zu sentences per voice (the full set runs in the "
                      "release build)\n",
                      n_sent, (size_t)N_SENT);
    char dir[] = "/tmp/stepd-wer-XXXXXX";
    assert_non_null(mkdtemp(dir));
    stepd_speech_recognizer *rec;
    char *err = NULL;
    assert_int_equal(stepd_speech_recognizer_open(NULL, NULL, &rec, &err), 0);
    size_t pooled_err = 0, pooled_ref = 0;
    double audio_sec = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int v = 0; v < 4; v++) {
        size_t errs = 0, refs = 0;
        for (size_t i = 0; i < n_sent; i++) {
            stepd_speech_synth_opts o = {.engine = "flite", .voice = voices[v]};
            stepd_speech_audio a;
            assert_int_equal(stepd_speech_synthesize(sentences[i], &o, &a, &err), 0);
            char path[64];
            snprintf(path, sizeof(path), "%s/%s-%zu.wav", dir, voices[v], i);
            assert_int_equal(stepd_speech_wav_write(&a, path, &err), 0);
            audio_sec += a.duration_sec;
            stepd_speech_audio_free(&a);
            stepd_speech_transcript t;
            int rc = stepd_speech_transcribe_file(rec, path, &t, &err);
            if (rc)
                print_message("%s: %s\n", path, err);
            assert_int_equal(rc, 0);
            remove(path);
            char ref[64][32], hyp[64][32];
            size_t nr = words_of(sentences[i], ref, 63), nh = words_of(t.text, hyp, 63);
            size_t e = edit_distance(ref, nr, hyp, nh);
            if (e)
                print_message("  %-5s \"%s\" -> \"%s\" (%zu errors)\n", voices[v], sentences[i],
                              t.text, e);
            errs += e;
            refs += nr;
            stepd_speech_transcript_free(&t);
        }
        print_message("WER %-5s %.3f (%zu errors / %zu words)\n", voices[v],
                      (double)errs / (double)refs, errs, refs);
        pooled_err += errs;
        pooled_ref += refs;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    double wer = (double)pooled_err / (double)pooled_ref;
    print_message("WER pooled %.3f over %zu sentences x 4 voices (%.0f s of audio in %.1f s)\n",
                  wer, n_sent, audio_sec, secs);
    assert_true(wer < 0.20);
    stepd_speech_recognizer_close(rec);
    remove(dir);
}

int main(void) {
    av_log_set_level(AV_LOG_QUIET);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_word_error_rate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
