/*
 * text_readability.c — Flesch Reading Ease and Flesch–Kincaid grade level from real syllable
 * counts:
 *     ease  = 206.835 - 1.015 * words/sentences - 84.6 * syllables/words
 *     grade = 0.39 * words/sentences + 11.8 * syllables/words - 15.59
 * Syllables are counted per word by English spelling rules (no dictionary is shipped in
 * Debian): vowel groups (y counts as a vowel after the first letter), minus a silent final
 * "e", silent "-ed"/"-es" endings and diphthongs that are one sound ("-tion", "-cial",
 * "-cious"), plus vowel pairs that are two sounds ("ia", "io" in "radio", "-ism") and a
 * consonant + "le" ending ("ta-ble"). Words are the tokens containing a letter or digit;
 * sentences come from the tokenizer.
 */
#include "ai/text_internal.h"

#include <string.h>

#include <stepd/step.h>

static int is_vowel(char c) {
    return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}
static int is_vy(char c) {
    return is_vowel(c) || c == 'y';
}

static int ends(const char *w, size_t n, const char *suf) {
    size_t k = strlen(suf);
    return n >= k && !memcmp(w + n - k, suf, k);
}

/* Words whose spelling defeats the rules, with their dictionary syllable count. */
static const struct {
    const char *w;
    int n;
} EXCEPTIONS[] = {
    {"the", 1},         {"every", 3},    {"different", 3}, {"business", 2},  {"area", 3},
    {"idea", 3},        {"being", 2},    {"going", 2},     {"doing", 2},     {"science", 2},
    {"quiet", 2},       {"poem", 2},     {"create", 2},    {"created", 3},   {"real", 1},
    {"really", 2},      {"cafe", 2},     {"recipe", 3},    {"people", 2},    {"whole", 1},
    {"once", 1},        {"one", 1},      {"some", 1},      {"come", 1},      {"done", 1},
    {"gone", 1},        {"none", 1},     {"there", 1},     {"where", 1},     {"here", 1},
    {"were", 1},        {"are", 1},      {"fire", 1},      {"hour", 1},      {"our", 1},
    {"naive", 2},       {"lion", 2},     {"science", 2},   {"violent", 3},   {"quiet", 2},
    {"being", 2},       {"seeing", 2},   {"toward", 2},    {"towards", 2},   {"family", 3},
    {"interesting", 3}, {"evening", 2},  {"several", 3},   {"chocolate", 3}, {"camera", 3},
    {"february", 4},    {"colonel", 2},  {"wednesday", 2}, {"queue", 1},     {"user", 2},
    {"users", 2},       {"ago", 2},      {"above", 2},     {"alive", 2},     {"anyone", 3},
    {"someone", 2},     {"everyone", 3}, {"however", 3},   {"because", 2},   {"before", 2},
    {"more", 1},        {"before", 2},   {"sometimes", 2}, {"lovely", 2},    {"likely", 2},
    {"movie", 2},       {"movies", 2},   {"genuine", 3},   {"biology", 4},   {"society", 4},
};

/* Occurrences of the vowel pair `pat` not preceded by any character of `notafter` and not
 * followed by any character of `notbefore`. */
static int pairs(const char *w, size_t n, const char *pat, const char *notafter,
                 const char *notbefore) {
    int c = 0;
    for (size_t i = 0; i + 2 <= n; i++) {
        if (w[i] != pat[0] || w[i + 1] != pat[1])
            continue;
        if (i > 0 && strchr(notafter, w[i - 1]))
            continue;
        if (i + 2 < n && strchr(notbefore, w[i + 2]))
            continue;
        c++;
    }
    return c;
}

int text_syllables(const char *word, size_t len) {
    char w[64];
    size_t n = 0;
    int digits = 0;
    for (size_t i = 0; i < len && n < sizeof(w) - 1; i++) {
        char c = word[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c + 32);
        if (c >= 'a' && c <= 'z')
            w[n++] = c;
        else if (c >= '0' && c <= '9')
            digits++;
        else if ((unsigned char)c >= 0xC0) /* a non-ASCII letter: count it as a vowel */
            w[n++] = 'a';
    }
    w[n] = 0;
    if (n == 0)
        return digits ? (digits + 1) / 2 : 0; /* numbers: about two digits per syllable */
    for (size_t k = 0; k < sizeof(EXCEPTIONS) / sizeof(EXCEPTIONS[0]); k++)
        if (EXCEPTIONS[k].w[0] == w[0] && !strcmp(w, EXCEPTIONS[k].w)) /* every word: be quick */
            return EXCEPTIONS[k].n;
    size_t m = n;
    /* silent endings: "make", "makes", "jumped" (but "table", "boxes", "wanted") */
    if (n > 3) {
        int cons_le = ends(w, n, "le") && !is_vy(w[n - 3]);
        int cons_les = ends(w, n, "les") && n > 4 && !is_vy(w[n - 4]);
        if (ends(w, n, "e") && !ends(w, n, "ee") && !ends(w, n, "ye") && !cons_le)
            m = n - 1;
        else if (ends(w, n, "es") && !is_vy(w[n - 3]) && !strchr("sxzcg", w[n - 3]) && !cons_les &&
                 !(w[n - 3] == 'h' && strchr("cs", w[n - 4])))
            m = n - 2;
        else if (ends(w, n, "ed") && !is_vy(w[n - 3]) && w[n - 3] != 't' && w[n - 3] != 'd')
            m = n - 2;
    }
    int count = 0;
    for (size_t i = 0; i < m;) {
        if (!(is_vowel(w[i]) || (w[i] == 'y' && i > 0))) {
            i++;
            continue;
        }
        count++;
        while (i < m && (is_vowel(w[i]) || (w[i] == 'y' && i > 0)))
            i++;
    }
    /* vowel pairs that are two sounds: "me-di-a", "ra-di-o", "ac-tu-al", "vi-de-o" */
    count += pairs(w, m, "ia", "ctsgx", "");
    count += pairs(w, m, "io", "ctsgx", "n");
    count += pairs(w, m, "iu", "ctsgx", "");
    count += pairs(w, m, "eo", "", "u");
    count += pairs(w, m, "ua", "qg", "");
    count += pairs(w, m, "uo", "q", "");
    count += pairs(w, m, "ii", "", "");
    if (ends(w, m, "ism"))
        count++;
    /* a silent e inside: "lone-ly", "state-ment", "care-ful" */
    if (n > 4 && !is_vy(w[n - 4]) && ends(w, n, "ely"))
        count--;
    if (n > 6 && (ends(w, n, "ement") || ends(w, n, "eless") || ends(w, n, "eness")) &&
        !is_vy(w[n - (ends(w, n, "ement") ? 6 : 6)]))
        count--;
    if (n > 5 && ends(w, n, "eful") && !is_vy(w[n - 5]))
        count--;
    return count < 1 ? 1 : count;
}

int stepd_text_syllables(const char *word, size_t len) {
    if (!word)
        return STEP_EINVAL;
    return text_syllables(word, len);
}
