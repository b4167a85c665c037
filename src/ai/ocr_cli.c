/* ocr_cli.c — `stepd ai ocr` (placeholder until the ocr module lands). */
#include "ai/ai_cli.h"

#include <stdio.h>

int ai_cli_ocr(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "stepd ai ocr: the ocr module is not built yet\n");
    return 1;
}
