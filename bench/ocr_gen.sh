#!/usr/bin/env bash
# bench/ocr_gen.sh OUTBIN — builds bench/ocr_gen.c (the test-document generator) into OUTBIN.
set -euo pipefail
cd "$(dirname "$0")/.."
cc -std=c11 -D_GNU_SOURCE -O2 -Itests -Iinclude $(pkg-config --cflags cairo lept jansson) \
    bench/ocr_gen.c tests/support/ocr_docgen.c -o "$1" $(pkg-config --libs cairo lept jansson) -lm
