/* speech_cli.c — `stepd ai speak|transcribe` (placeholder until the speech module lands). */
#include "ai/ai_cli.h"

#include <stdio.h>

int ai_cli_speak(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "stepd ai speak: the speech module is not built yet\n");
    return 1;
}

int ai_cli_transcribe(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "stepd ai transcribe: the speech module is not built yet\n");
    return 1;
}
