/* test_text.c — the text module: Pattern-compatible tokens, sentiment and tags (checked
 * against Debian's python3-pattern on a generated corpus), readability, language id, the
 * analysis document, bad input and concurrent use. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h> /* after the four headers it needs */
// clang-format on

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stepd/ai/llm.h>
#include <stepd/ai/text.h>

#include <stepd/step.h>

#include "support/llm_fake_server.h"

static const stepd_text *TX;

static int setup(void **state) {
    (void)state;
    const char *err = NULL;
    TX = stepd_text_default(&err);
    if (!TX)
        fprintf(stderr, "text data not loaded: %s\n", err);
    return 0;
}

#define NEED_DATA()                                                                                \
    do {                                                                                           \
        if (!TX) {                                                                                 \
            print_message("python3-pattern data missing (install packages/text.apt)\n");           \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

static char *tokens_str(const char *text) {
    json_t *j = NULL;
    assert_int_equal(stepd_text_tokenize(text, strlen(text), &j), 0);
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(j);
    return s;
}

static void expect_tokens(const char *text, const char *want) {
    char *got = tokens_str(text);
    if (strcmp(got, want))
        print_message("text: %s\n got: %s\nwant: %s\n", text, got, want);
    assert_string_equal(got, want);
    free(got);
}

static void test_tokenizer(void **state) {
    (void)state;
    expect_tokens(
        "I don't know. It's 3.5 degrees!",
        "[[\"I\",\"do\",\"n't\",\"know\",\".\"],[\"It\",\"'s\",\"3.5\",\"degrees\",\"!\"]]");
    expect_tokens("Mr. Smith met Dr. Jones in the U.S. yesterday.",
                  "[[\"Mr.\",\"Smith\",\"met\",\"Dr.\",\"Jones\",\"in\",\"the\",\"U.S.\","
                  "\"yesterday\",\".\"]]");
    expect_tokens("Mail me@example.com or see http://example.com/a, ok?",
                  "[[\"Mail\",\"me@example.com\",\"or\",\"see\",\"http://example.com/a\",\",\","
                  "\"ok\",\"?\"]]");
    expect_tokens(
        "Wait... what?! Great :) \xF0\x9F\x98\x80",
        "[[\"Wait\",\"...\"],[\"what\",\"?\",\"!\"],[\"Great\",\":)\",\"\\uD83D\\uDE00\"]]");
    expect_tokens("Title\n\nBody text here", "[[\"Title\"],[\"Body\",\"text\",\"here\"]]");
    expect_tokens("", "[]");
    expect_tokens("   \n\n  ", "[]");
}

/* Texts past the tokenizer's and the scorer's stack scratch (spans, joined sentence, idiom,
 * lower-cased copy) give the same results as their short forms. */
static void test_long_tokens_and_sentences(void **state) {
    (void)state;
    NEED_DATA();
    /* one 3000-byte sentence with an emoticon split apart at its end: glued back */
    char *big = malloc(8192);
    assert_non_null(big);
    size_t n = 0;
    for (int i = 0; i < 600; i++)
        n += (size_t)snprintf(big + n, 8192 - n, "good ");
    n += (size_t)snprintf(big + n, 8192 - n, ": )");
    json_t *tok = NULL;
    assert_int_equal(stepd_text_tokenize(big, n, &tok), 0);
    assert_int_equal(json_array_size(tok), 1);
    json_t *sent = json_array_get(tok, 0);
    assert_int_equal(json_array_size(sent), 601);
    assert_string_equal(json_string_value(json_array_get(sent, 600)), ":)");
    json_decref(tok);
    double p1, s1, p2, s2;
    assert_int_equal(stepd_text_sentiment(TX, big, n, &p1, &s1), 0);
    (void)p2, (void)s2;
    assert_true(fabs(p1 - (600 * 0.7 + 0.5) / 601) < 1e-9); /* "good" 0.7, ":)" 0.5 */
    /* a multi-word form's head followed by very long unknown words, ASCII and not: the same
     * score as with short unknown words */
    const char *fill[] = {"x", "\xC3\xA9"};
    for (int f = 0; f < 2; f++) {
        n = (size_t)snprintf(big, 8192, "It is done ");
        for (int w = 0; w < 2; w++) {
            for (int i = 0; i < 700; i++)
                n += (size_t)snprintf(big + n, 8192 - n, "%s", fill[f]);
            big[n++] = ' ';
        }
        n += (size_t)snprintf(big + n, 8192 - n, "and Great!");
        char shrt[128];
        snprintf(shrt, sizeof(shrt), "It is done %s%s%s %s%s%s and Great!", fill[f], fill[f],
                 fill[f], fill[f], fill[f], fill[f]);
        assert_int_equal(stepd_text_sentiment(TX, big, n, &p1, &s1), 0);
        assert_int_equal(stepd_text_sentiment(TX, shrt, strlen(shrt), &p2, &s2), 0);
        assert_true(p1 == p2 && s1 == s2);
        assert_true(p1 > 0);
    }
    free(big);
}

static void test_sentiment_known_values(void **state) {
    (void)state;
    NEED_DATA();
    double p, s;
    assert_int_equal(stepd_text_sentiment(TX, "This is a very good movie!", 26, &p, &s), 0);
    assert_true(fabs(p - 1.0) < 1e-12);
    assert_true(fabs(s - 0.78) < 1e-12);
    const char *neg = "The food was not good.";
    assert_int_equal(stepd_text_sentiment(TX, neg, strlen(neg), &p, &s), 0);
    assert_true(p < 0);
    const char *none = "The cat sat on the mat.";
    assert_int_equal(stepd_text_sentiment(TX, none, strlen(none), &p, &s), 0);
    assert_true(p == 0.0 && s == 0.0);
}

/* ---- parity with python3-pattern ---------------------------------------------------------- */

static int have_pattern(void) {
    return system("/usr/bin/python3 -c 'import pattern' >/dev/null 2>&1") == 0;
}

static void test_parity_with_pattern(void **state) {
    (void)state;
    NEED_DATA();
    if (!have_pattern()) {
        print_message("Debian's python3-pattern is not importable by /usr/bin/python3\n");
        skip();
    }
    char dir[] = "/tmp/stepd-text-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 tests/support/text_corpus.py 1500 11 > %s/corpus.txt && "
             "/usr/bin/python3 tests/support/text_ref.py --tags < %s/corpus.txt > %s/ref.jsonl",
             dir, dir, dir);
    assert_int_equal(system(cmd), 0);
    char path[512];
    snprintf(path, sizeof(path), "%s/corpus.txt", dir);
    FILE *corpus = fopen(path, "r");
    snprintf(path, sizeof(path), "%s/ref.jsonl", dir);
    FILE *ref = fopen(path, "r");
    assert_non_null(corpus);
    assert_non_null(ref);
    char *line = NULL, *rline = NULL;
    size_t cap = 0, rcap = 0;
    ssize_t n;
    size_t lines = 0, sent_bad = 0, tags = 0, tags_ok = 0;
    while ((n = getline(&line, &cap, corpus)) > 0) {
        assert_true(getline(&rline, &rcap, ref) > 0);
        if (line[n - 1] == '\n')
            line[--n] = 0;
        json_t *r = json_loads(rline, 0, NULL);
        assert_non_null(r);
        double p, s;
        assert_int_equal(stepd_text_sentiment(TX, line, (size_t)n, &p, &s), 0);
        double rp = json_real_value(json_object_get(r, "polarity")) +
                    (double)json_integer_value(json_object_get(r, "polarity"));
        double rs = json_real_value(json_object_get(r, "subjectivity")) +
                    (double)json_integer_value(json_object_get(r, "subjectivity"));
        if (fabs(p - rp) > 1e-9 || fabs(s - rs) > 1e-9) {
            if (sent_bad < 5)
                print_message("sentiment differs: %s\n  pattern (%.17g, %.17g) stepd (%.17g, "
                              "%.17g)\n",
                              line, rp, rs, p, s);
            sent_bad++;
        }
        json_t *tagged = NULL;
        assert_int_equal(stepd_text_tag(TX, line, (size_t)n, &tagged), 0);
        json_t *rt = json_object_get(r, "tags");
        size_t k = 0, si, ti;
        json_t *sent, *tok;
        json_array_foreach(tagged, si, sent) {
            json_array_foreach(sent, ti, tok) {
                json_t *want = json_array_get(rt, k++);
                tags++;
                if (want &&
                    !strcmp(json_string_value(json_array_get(want, 0)),
                            json_string_value(json_array_get(tok, 0))) &&
                    !strcmp(json_string_value(json_array_get(want, 1)),
                            json_string_value(json_array_get(tok, 1))))
                    tags_ok++;
            }
        }
        if (k != json_array_size(rt))
            tags += json_array_size(rt) > k ? json_array_size(rt) - k : 0;
        json_decref(tagged);
        json_decref(r);
        lines++;
    }
    free(line);
    free(rline);
    fclose(corpus);
    fclose(ref);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    print_message("parity: %zu lines, sentiment mismatches %zu, POS agreement %zu/%zu\n", lines,
                  sent_bad, tags_ok, tags);
    assert_int_equal(lines, 1500);
    assert_int_equal(sent_bad, 0);
    assert_true((double)tags_ok >= 0.99 * (double)tags);
}

/* ---- readability --------------------------------------------------------------------------- */

static void test_syllables(void **state) {
    (void)state;
    static const struct {
        const char *w;
        int n;
    } W[] = {
        {"cat", 1},         {"the", 1},         {"table", 2},        {"little", 2},
        {"make", 1},        {"makes", 1},       {"jumped", 1},       {"wanted", 2},
        {"played", 1},      {"boxes", 2},       {"happy", 2},        {"yes", 1},
        {"beautiful", 3},   {"wonderful", 3},   {"activity", 4},     {"reading", 2},
        {"children", 2},    {"stories", 2},     {"nation", 2},       {"radio", 3},
        {"media", 3},       {"social", 2},      {"period", 3},       {"delicious", 3},
        {"various", 3},     {"actual", 3},      {"language", 2},     {"lonely", 2},
        {"statement", 2},   {"careful", 2},     {"computer", 3},     {"university", 5},
        {"information", 4}, {"readability", 5}, {"syllable", 3},     {"simple", 2},
        {"education", 4},   {"banana", 3},      {"elephant", 3},     {"strength", 1},
        {"school", 1},      {"queen", 1},       {"create", 2},       {"piano", 3},
        {"video", 3},       {"trial", 2},       {"whale", 1},        {"hope", 1},
        {"hoping", 2},      {"interesting", 3}, {"organization", 5}, {"international", 5},
        {"development", 4}, {"government", 3},  {"important", 3},    {"problem", 2},
        {"system", 2},      {"water", 2},       {"people", 2},       {"family", 3},
        {"example", 3},     {"different", 3},   {"together", 3},
    };
    size_t ok = 0, n = sizeof(W) / sizeof(W[0]);
    for (size_t i = 0; i < n; i++) {
        int got = stepd_text_syllables(W[i].w, strlen(W[i].w));
        if (got == W[i].n)
            ok++;
        else
            print_message("syllables(%s) = %d, dictionary says %d\n", W[i].w, got, W[i].n);
    }
    assert_true(ok * 100 >= n * 95);
}

static void test_readability_hand_computed(void **state) {
    (void)state;
    stepd_text_readability r;
    const char *a = "The cat sat on the mat.";
    assert_int_equal(stepd_text_readability_of(a, strlen(a), &r), 0);
    /* 6 words, 6 syllables, 1 sentence */
    assert_int_equal(r.words, 6);
    assert_int_equal(r.syllables, 6);
    assert_int_equal(r.sentences, 1);
    assert_true(fabs(r.score - (206.835 - 1.015 * 6 - 84.6 * 1)) < 1e-9); /* 116.145 */
    assert_true(fabs(r.grade - (0.39 * 6 + 11.8 * 1 - 15.59)) < 1e-9);    /* -1.45 */
    assert_string_equal(r.level, "easy");
    const char *b = "Reading is a wonderful activity. Children love beautiful stories.";
    assert_int_equal(stepd_text_readability_of(b, strlen(b), &r), 0);
    /* Read-ing is a won-der-ful ac-tiv-i-ty | Chil-dren love beau-ti-ful sto-ries:
     * 9 words, 19 syllables, 2 sentences */
    assert_int_equal(r.words, 9);
    assert_int_equal(r.syllables, 19);
    assert_int_equal(r.sentences, 2);
    assert_true(fabs(r.score - (206.835 - 1.015 * 4.5 - 84.6 * 19.0 / 9.0)) < 1e-9); /* 23.6675 */
    assert_true(fabs(r.grade - (0.39 * 4.5 + 11.8 * 19.0 / 9.0 - 15.59)) < 1e-9);
    assert_string_equal(r.level, "difficult");
    assert_int_equal(stepd_text_readability_of("", 0, &r), 0);
    assert_int_equal(r.words, 0);
}

/* ---- language ------------------------------------------------------------------------------ */

static const struct {
    const char *code;
    const char *words[24];
} LANGS[] = {
    {"en", {"the",     "house", "is",     "very",    "small",     "and",    "we",   "have",
            "never",   "seen",  "such",   "a",       "beautiful", "garden", "with", "children",
            "playing", "in",    "summer", "because", "weather",   "was",    "warm", "today"}},
    {"de", {"das",     "Haus", "ist",   "sehr",   "klein",   "und",    "wir",    "haben",
            "noch",    "nie",  "einen", "so",     "schönen", "Garten", "mit",    "Kindern",
            "gesehen", "die",  "im",    "Sommer", "spielen", "weil",   "Wetter", "warm"}},
    {"fr", {"la",      "maison", "est",    "très", "petite", "et",     "nous", "avons",
            "jamais",  "vu",     "un",     "si",   "beau",   "jardin", "avec", "des",
            "enfants", "qui",    "jouent", "en",   "été",    "parce",  "que",  "temps"}},
    {"es", {"la",     "casa", "es",     "muy",    "pequeña", "y",      "nunca",  "hemos",
            "visto",  "un",   "jardín", "tan",    "hermoso", "con",    "niños",  "que",
            "juegan", "en",   "verano", "porque", "el",      "tiempo", "estaba", "caliente"}},
    {"it", {"la",  "casa",    "è",  "molto",    "piccola", "e",     "non",   "abbiamo",
            "mai", "visto",   "un", "giardino", "così",    "bello", "con",   "bambini",
            "che", "giocano", "in", "estate",   "perché",  "il",    "tempo", "caldo"}},
    {"pt", {"a",  "casa",   "é",      "muito",  "pequena", "e",        "nunca",  "vimos",
            "um", "jardim", "tão",    "bonito", "com",     "crianças", "que",    "brincam",
            "no", "verão",  "porque", "o",      "tempo",   "estava",   "quente", "hoje"}},
    {"nl", {"het",    "huis", "is",    "erg",   "klein",  "en",   "wij",      "hebben",
            "nooit",  "zo'n", "mooie", "tuin",  "gezien", "met",  "kinderen", "die",
            "spelen", "in",   "de",    "zomer", "omdat",  "weer", "warm",     "was"}},
    {"pl", {"dom",   "jest",     "bardzo", "mały", "i",       "nigdy",   "nie",   "widzieliśmy",
            "tak",   "pięknego", "ogrodu", "z",    "dziećmi", "które",   "bawią", "się",
            "latem", "ponieważ", "pogoda", "była", "ciepła",  "dzisiaj", "w",     "naszym"}},
    {"fi",
     {"talo",    "on",   "hyvin",    "pieni",     "ja",     "emme",   "ole",       "koskaan",
      "nähneet", "niin", "kaunista", "puutarhaa", "jossa",  "lapset", "leikkivät", "kesällä",
      "koska",   "sää",  "oli",      "lämmin",    "tänään", "meidän", "kanssa",    "ystävät"}},
    {"sv", {"huset", "är", "mycket",   "litet",    "och",      "vi",  "har",   "aldrig",
            "sett",  "en", "så",       "vacker",   "trädgård", "med", "barn",  "som",
            "leker", "på", "sommaren", "eftersom", "vädret",   "var", "varmt", "idag"}},
    {"tr", {"ev",      "çok",   "küçük",    "ve",       "biz",   "hiç",     "böyle", "güzel",
            "bir",     "bahçe", "görmedik", "çocuklar", "yazın", "oynuyor", "çünkü", "hava",
            "sıcaktı", "bugün", "bizim",    "evimiz",   "için",  "daha",    "sonra", "geldi"}},
    {"hu", {"a",       "ház",   "nagyon", "kicsi",  "és",   "még",      "soha",      "nem",
            "láttunk", "ilyen", "szép",   "kertet", "ahol", "gyerekek", "játszanak", "nyáron",
            "mert",    "az",    "idő",    "meleg",  "volt", "ma",       "nekünk",    "együtt"}},
    {"ru",
     {"дом",    "очень",     "маленький", "и",      "мы",      "никогда", "не",    "видели",
      "такого", "красивого", "сада",      "где",    "дети",    "играют",  "летом", "потому",
      "что",    "погода",    "была",      "тёплой", "сегодня", "наш",     "с",     "друзьями"}},
};

static void test_language_id(void **state) {
    (void)state;
    NEED_DATA();
    unsigned seed = 42;
    size_t nl = sizeof(LANGS) / sizeof(LANGS[0]), total = 0, ok = 0;
    for (size_t l = 0; l < nl; l++) {
        for (int k = 0; k < 40; k++) {
            char buf[512] = "";
            int nw = 10 + (int)(rand_r(&seed) % 8);
            for (int w = 0; w < nw; w++) {
                if (w)
                    strcat(buf, " ");
                strcat(buf, LANGS[l].words[rand_r(&seed) % 24]);
            }
            char code[16];
            double conf;
            assert_int_equal(stepd_text_language(TX, buf, strlen(buf), code, &conf), 0);
            total++;
            if (!strcmp(code, LANGS[l].code))
                ok++;
            else
                print_message("language(%s) = %s, want %s\n", buf, code, LANGS[l].code);
        }
    }
    print_message("language id: %zu/%zu over %zu languages\n", ok, total, nl);
    assert_true(ok * 100 >= total * 98);
    char code[16];
    double conf;
    assert_int_equal(stepd_text_language(TX, "ok", 2, code, &conf), 0);
    assert_string_equal(code, "und");
    assert_true(conf == 0.0);
}

/* Long texts take the classifier's heap path and are cut at 4 KiB (inside a word, inside a
 * UTF-8 sequence); digits, tabs and runs of spaces are word breaks. Same language out. */
static void test_language_long_text(void **state) {
    (void)state;
    NEED_DATA();
    unsigned seed = 7;
    size_t nl = sizeof(LANGS) / sizeof(LANGS[0]);
    char *buf = malloc(20000);
    assert_non_null(buf);
    for (size_t l = 0; l < nl; l++) {
        size_t n = 0;
        while (n < 19000) {
            const char *w = LANGS[l].words[rand_r(&seed) % 24];
            const char *sep = rand_r(&seed) % 9 == 0 ? "  1999\t" : " ";
            n += (size_t)snprintf(buf + n, 20000 - n, "%s%s", w, sep);
        }
        for (size_t len = 300; len <= n; len = len * 4 < n || len == n ? len * 4 : n) {
            char code[16];
            double conf;
            assert_int_equal(stepd_text_language(TX, buf, len, code, &conf), 0);
            if (strcmp(code, LANGS[l].code))
                print_message("%zu bytes of %s: got %s\n", len, LANGS[l].code, code);
            assert_string_equal(code, LANGS[l].code);
            assert_true(conf > 0.0 && conf <= 1.0);
            if (len == n)
                break;
        }
    }
    /* raw bytes (stepd_text_language() does not sanitise): lead bytes without continuation
     * bytes, stray continuation bytes, NULs; any answer, no overrun (ASan) */
    static const unsigned char pick[] = {0xF0, 0xE2, 0xC3, 0x80, 0xBF, 0xFF, '_',
                                         ' ',  'a',  'e',  '1',  0,    '\n', 'x'};
    for (int k = 0; k < 60; k++) {
        size_t len = 1 + rand_r(&seed) % (k < 30 ? 300 : 6000);
        for (size_t i = 0; i < len; i++)
            buf[i] = (char)pick[rand_r(&seed) % sizeof(pick)];
        char code[16];
        double conf;
        assert_int_equal(stepd_text_language(TX, buf, len, code, &conf), 0);
        assert_true(conf >= 0.0 && conf <= 1.0);
    }
    free(buf);
}

/* ---- the analysis document ------------------------------------------------------------------- */

static json_t *analyze(const char *text, size_t len) {
    json_t *out = NULL;
    char *err = NULL;
    int rc = stepd_text_analyze(TX, text, len, NULL, &out, &err);
    if (rc)
        print_message("analyze failed: %s\n", err ? err : "?");
    free(err);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    return out;
}

static void test_analysis_fields(void **state) {
    (void)state;
    NEED_DATA();
    const char *t = "Apple Inc. announced a new phone in Paris on January 5, 2024. Tim Cook said "
                    "the launch was an amazing success! Prices start at $999, a 10% rise. "
                    "Contact press@apple.com or visit https://apple.com for details.";
    json_t *a = analyze(t, strlen(t));
    assert_int_equal(json_integer_value(json_object_get(a, "sentences")), 4);
    json_t *s = json_object_get(a, "sentiment");
    assert_true(json_real_value(json_object_get(s, "polarity")) > 0);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(s, "classification"), "label")),
        "POSITIVE");
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "language"), "code")),
                        "en");
    json_t *r = json_object_get(a, "readability");
    assert_non_null(json_object_get(r, "score"));
    assert_non_null(json_object_get(r, "grade"));
    assert_non_null(json_object_get(r, "level"));
    assert_true(json_array_size(json_object_get(a, "keyPhrases")) > 0);
    assert_true(json_array_size(json_object_get(a, "keyPhrases")) <= 10);
    assert_true(json_string_length(json_object_get(a, "summary")) > 0);
    assert_true(json_is_array(json_object_get(a, "entities")));
    json_decref(a);
}

static int has_entity(json_t *ents, const char *src, const char *text, const char *type) {
    size_t i;
    json_t *e;
    json_array_foreach(ents, i, e) {
        const char *t = json_string_value(json_object_get(e, "text"));
        const char *ty = json_string_value(json_object_get(e, "type"));
        json_int_t st = json_integer_value(json_object_get(e, "start"));
        json_int_t en = json_integer_value(json_object_get(e, "end"));
        if (!strcmp(t, text) && !strcmp(ty, type) && en - st == (json_int_t)strlen(text) &&
            !strncmp(src + st, text, strlen(text)))
            return 1;
    }
    return 0;
}

static void test_entities(void **state) {
    (void)state;
    NEED_DATA();
    const char *t =
        "Apple Inc. opened a store in Paris on January 5, 2024. Tim Cook said sales rose 10% "
        "to $999 million. Mail press@apple.com, visit https://apple.com or call "
        "+1 (555) 123-4567 before 10:30 pm on Friday. Mr. Smith flew from New York to Berlin "
        "with 3 friends and EUR 20. The University of Oxford and Bank of America met in 1999. "
        "I met John near the Eiffel Tower.";
    json_t *a = analyze(t, strlen(t));
    json_t *ents = json_object_get(a, "entities");
    static const char *const want[][2] = {
        {"Apple Inc.", "ORG"},
        {"Paris", "GPE"},
        {"January 5, 2024", "DATE"},
        {"Tim Cook", "PERSON"},
        {"10%", "PERCENT"},
        {"$999 million", "MONEY"},
        {"press@apple.com", "EMAIL"},
        {"https://apple.com", "URL"},
        {"+1 (555) 123-4567", "PHONE"},
        {"10:30 pm", "TIME"},
        {"Friday", "DATE"},
        {"Smith", "PERSON"},
        {"New York", "GPE"},
        {"Berlin", "GPE"},
        {"3", "CARDINAL"},
        {"EUR 20", "MONEY"},
        {"University of Oxford", "ORG"},
        {"Bank of America", "ORG"},
        {"1999", "DATE"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        if (!has_entity(ents, t, want[i][0], want[i][1])) {
            char *dump = json_dumps(ents, JSON_COMPACT);
            print_message("missing %s %s in %s\n", want[i][1], want[i][0], dump);
            free(dump);
        }
        assert_true(has_entity(ents, t, want[i][0], want[i][1]));
    }
    json_decref(a);
}

static void test_bad_input(void **state) {
    (void)state;
    NEED_DATA();
    json_t *a = analyze("", 0);
    assert_int_equal(json_integer_value(json_object_get(a, "tokens")), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(a, "language"), "code")),
                        "und");
    json_decref(a);
    unsigned char bin[4096];
    unsigned seed = 7;
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char)rand_r(&seed);
    json_decref(analyze((const char *)bin, sizeof(bin)));
    const char bad[] = "caf\xC3 \xFF\xFE ok \xE2\x82 done\x00 after nul";
    a = analyze(bad, sizeof(bad) - 1);
    assert_true(json_integer_value(json_object_get(a, "tokens")) >= 4);
    json_decref(a);
    json_t *out = NULL;
    char *err = NULL;
    assert_int_equal(stepd_text_analyze(NULL, "x", 1, NULL, &out, &err), STEP_EINVAL);
    assert_non_null(err);
    free(err);
    /* a few MiB of prose: counts everything, deep analysis bounded */
    size_t big = 5u << 20;
    char *b = malloc(big + 1);
    assert_non_null(b);
    const char *unit = "The quick brown fox jumps over the lazy dog. It was a good day!\n";
    size_t ul = strlen(unit);
    for (size_t i = 0; i < big; i++)
        b[i] = unit[i % ul];
    a = analyze(b, big);
    assert_true(json_integer_value(json_object_get(a, "sentences")) > 100000);
    assert_true(json_is_true(json_object_get(a, "truncated")));
    json_decref(a);
    free(b);
}

static void test_summary(void **state) {
    (void)state;
    NEED_DATA();
    const char *t = "The city council approved the new park budget on Monday. The park will have "
                    "a lake, a playground and new trees. Critics said the budget was too high. "
                    "The council said the park budget will create jobs and the new park will open "
                    "next year. Weather was sunny.";
    stepd_text_analyze_options o = {.summary_sentences = 2};
    json_t *a = NULL;
    assert_int_equal(stepd_text_analyze(TX, t, strlen(t), &o, &a, NULL), 0);
    json_t *idx = json_object_get(a, "summarySentences");
    assert_int_equal(json_array_size(idx), 2);
    /* in document order, and the off-topic last sentence is not chosen */
    assert_true(json_integer_value(json_array_get(idx, 0)) <
                json_integer_value(json_array_get(idx, 1)));
    assert_null(strstr(json_string_value(json_object_get(a, "summary")), "Weather"));
    json_decref(a);
    /* a byte bound wins over the sentence count */
    o.summary_max_chars = 80;
    assert_int_equal(stepd_text_analyze(TX, t, strlen(t), &o, &a, NULL), 0);
    assert_true(json_string_length(json_object_get(a, "summary")) <= 80);
    json_decref(a);
    /* no LLM: the extractive summary, saying why */
    json_t *s = NULL;
    assert_int_equal(stepd_text_summarize(TX, NULL, NULL, t, strlen(t), 2, &s), 0);
    assert_string_equal(json_string_value(json_object_get(s, "method")), "extractive");
    assert_non_null(strstr(json_string_value(json_object_get(s, "note")), "no LLM"));
    assert_true(json_string_length(json_object_get(s, "summary")) > 0);
    json_decref(s);
}

static void test_abstractive_summary_via_llm(void **state) {
    (void)state;
    NEED_DATA();
    llm_fake_server *srv = llm_fake_start();
    assert_non_null(srv);
    const char *t = "The council approved the park budget on Monday. The park opens next year.";
    json_t *ai = json_pack("{s:s,s:s,s:s,s:i,s:i}", "baseUrl", llm_fake_url(srv), "model", "m",
                           "apiKey", "test", "maxRetries", 0, "backoffMs", 5);
    stepd_llm_client *c = NULL;
    assert_int_equal(stepd_llm_client_new(ai, &c, NULL), 0);
    llm_fake_reply r = {.content = "Council approves park budget; park opens next year."};
    llm_fake_push(srv, &r);
    json_t *s = NULL;
    assert_int_equal(stepd_text_summarize(TX, c, NULL, t, strlen(t), 1, &s), 0);
    assert_string_equal(json_string_value(json_object_get(s, "method")), "abstractive");
    assert_string_equal(json_string_value(json_object_get(s, "summary")),
                        "Council approves park budget; park opens next year.");
    json_t *body = llm_fake_last_body(srv);
    char *dump = json_dumps(body, JSON_COMPACT);
    assert_non_null(strstr(dump, "at most 1 sentences"));
    assert_non_null(strstr(dump, "park budget on Monday"));
    free(dump);
    json_decref(body);
    json_decref(s);
    /* the server fails: the extractive summary, with the reason */
    llm_fake_reply bad = {.status = 500, .body = "{\"error\":{\"message\":\"boom\"}}"};
    llm_fake_push(srv, &bad);
    assert_int_equal(stepd_text_summarize(TX, c, NULL, t, strlen(t), 1, &s), 0);
    assert_string_equal(json_string_value(json_object_get(s, "method")), "extractive");
    assert_non_null(strstr(json_string_value(json_object_get(s, "note")), "LLM summary failed"));
    json_decref(s);
    stepd_llm_client_free(c);
    json_decref(ai);
    llm_fake_stop(srv);
}

static void *worker(void *arg) {
    const char *t = arg;
    for (int i = 0; i < 20; i++) {
        json_t *out = NULL;
        if (stepd_text_analyze(TX, t, strlen(t), NULL, &out, NULL) != 0)
            return (void *)1;
        json_decref(out);
    }
    return NULL;
}

static void test_threads(void **state) {
    (void)state;
    NEED_DATA();
    pthread_t th[4];
    const char *t = "Stocks rallied in New York today. Investors were very happy with the strong "
                    "earnings, though some analysts remain cautious.";
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, (void *)t), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizer),
        cmocka_unit_test(test_long_tokens_and_sentences),
        cmocka_unit_test(test_sentiment_known_values),
        cmocka_unit_test(test_parity_with_pattern),
        cmocka_unit_test(test_syllables),
        cmocka_unit_test(test_readability_hand_computed),
        cmocka_unit_test(test_language_id),
        cmocka_unit_test(test_language_long_text),
        cmocka_unit_test(test_analysis_fields),
        cmocka_unit_test(test_entities),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_abstractive_summary_via_llm),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
