/*
 * ai_cli.c — `stepd ai ...`: runs one AI module from the command line, without a project.
 * Each module owns its command in src/ai/<module>_cli.c; this file only dispatches.
 */
#include "ai/ai_cli.h"

#include <stdio.h>
#include <string.h>

typedef struct ai_command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *usage;
} ai_command;

static const ai_command commands[] = {
    {"chat", ai_cli_chat, "chat PROMPT [--model M] [--system S] [--stream]  one chat completion"},
    {"text", ai_cli_text, "text [--file F | TEXT | -] [--summary N] analyse text (JSON)"},
    {"recommend", ai_cli_recommend, "recommend --catalog FILE --item ID [-k N]  similar items"},
    {"ocr", ai_cli_ocr, "ocr FILE [--type invoice|receipt|id]   read a document"},
    {"speak", ai_cli_speak, "speak TEXT -o OUT.wav [--voice V]      synthesise speech"},
    {"transcribe", ai_cli_transcribe, "transcribe FILE                         recognise speech"},
    {"nn", ai_cli_nn, "nn info MODEL.onnx                      inspect a neural model"},
};

static void ai_usage(FILE *out) {
    fprintf(out, "usage: stepd ai COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %s\n", commands[i].usage);
    fprintf(out, "\n`stepd ai COMMAND --help` describes each.\n");
}

int ai_cli_main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        ai_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "stepd ai: unknown command '%s'\n", argv[1]);
    ai_usage(stderr);
    return 2;
}
