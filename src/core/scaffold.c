/*
 * scaffold.c — `stepd new NAME [--lang c|js|python]`: a starter project with one API, one
 * event and one cron step in the chosen language (the same flow in each), a stepd.json and a
 * smoke test that starts the server and checks the flow. Refuses to write into a directory
 * that already exists.
 */
#include "core/scaffold.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *api_step =
    "/* POST /hello {\"name\": \"Ada\"} answers a greeting and emits hello.greeted. */\n"
    "#include <stepd/step.h>\n"
    "\n"
    "static int hello(step_ctx *ctx, step_request *req, step_response *res) {\n"
    "    const char *name = json_string_value(json_object_get(req->body, \"name\"));\n"
    "    int rc = step_emit(ctx, \"hello.greeted\", json_pack(\"{s:s}\", \"name\", name));\n"
    "    if (rc)\n"
    "        return rc; /* answered as 500 with a request id */\n"
    "    step_log_info(ctx, \"greeted\", NULL);\n"
    "    return step_respond(res, 200, json_pack(\"{s:s+}\", \"message\", \"Hello, \", name));\n"
    "}\n"
    "\n"
    "STEP_CONFIG = {\n"
    "    .type = STEP_API,\n"
    "    .name = \"HelloApi\",\n"
    "    .description = \"Greets a caller and records the greeting\",\n"
    "    .flows = STEP_LIST(\"hello\"),\n"
    "    .method = \"POST\",\n"
    "    .path = \"/hello\",\n"
    "    .body_schema = \"{\\\"type\\\":\\\"object\\\",\\\"required\\\":[\\\"name\\\"],\"\n"
    "                   \"\\\"properties\\\":{\\\"name\\\":{\\\"type\\\":\\\"string\\\",\\\"minLength\\\":1}}}\",\n"
    "    .emits = STEP_LIST(\"hello.greeted\"),\n"
    "    .api = hello,\n"
    "};\n";

static const char *event_step =
    "/* Counts greetings per name in state group \"greetings\". */\n"
    "#include <stepd/step.h>\n"
    "\n"
    "static int count(step_ctx *ctx, json_t *input) {\n"
    "    const char *name = json_string_value(json_object_get(input, \"name\"));\n"
    "    json_t *prev = NULL;\n"
    "    json_int_t n = 0;\n"
    "    if (step_state_get(ctx, \"greetings\", name, &prev) == 0)\n"
    "        n = json_integer_value(json_object_get(prev, \"count\"));\n"
    "    json_decref(prev);\n"
    "    json_t *rec = json_pack(\"{s:s, s:I}\", \"name\", name, \"count\", n + 1);\n"
    "    int rc = step_state_set(ctx, \"greetings\", name, rec);\n"
    "    json_decref(rec);\n"
    "    return rc; /* non-zero: retried with backoff, then dead-lettered */\n"
    "}\n"
    "\n"
    "STEP_CONFIG = {\n"
    "    .type = STEP_EVENT,\n"
    "    .name = \"CountGreetings\",\n"
    "    .flows = STEP_LIST(\"hello\"),\n"
    "    .subscribes = STEP_LIST(\"hello.greeted\"),\n"
    "    .input_schema = \"{\\\"type\\\":\\\"object\\\",\\\"required\\\":[\\\"name\\\"]}\",\n"
    "    .on_event = count,\n"
    "};\n";

static const char *cron_step =
    "/* Every 5 minutes, logs how many names have been greeted. */\n"
    "#include <stepd/step.h>\n"
    "\n"
    "static int report(step_ctx *ctx) {\n"
    "    json_t *all = NULL;\n"
    "    int rc = step_state_get_group(ctx, \"greetings\", &all);\n"
    "    if (rc)\n"
    "        return rc;\n"
    "    json_t *f = json_pack(\"{s:I}\", \"names\", (json_int_t)json_array_size(all));\n"
    "    step_log_info(ctx, \"greeting report\", f);\n"
    "    json_decref(f);\n"
    "    json_decref(all);\n"
    "    return 0;\n"
    "}\n"
    "\n"
    "STEP_CONFIG = {\n"
    "    .type = STEP_CRON,\n"
    "    .name = \"GreetingReport\",\n"
    "    .flows = STEP_LIST(\"hello\"),\n"
    "    .cron = \"*/5 * * * *\",\n"
    "    .on_cron = report,\n"
    "};\n";

/* The same three steps in JavaScript (Motia's shapes: exports.config / exports.handler). */
static const char *js_api_step =
    "// POST /hello {\"name\": \"Ada\"} answers a greeting and emits hello.greeted.\n"
    "exports.config = {\n"
    "  type: 'api',\n"
    "  name: 'HelloApi',\n"
    "  description: 'Greets a caller and records the greeting',\n"
    "  flows: ['hello'],\n"
    "  method: 'POST',\n"
    "  path: '/hello',\n"
    "  bodySchema: {\n"
    "    type: 'object',\n"
    "    required: ['name'],\n"
    "    properties: { name: { type: 'string', minLength: 1 } },\n"
    "  },\n"
    "  emits: ['hello.greeted'],\n"
    "};\n"
    "\n"
    "exports.handler = async (req, { emit, logger }) => {\n"
    "  const { name } = req.body;\n"
    "  await emit({ topic: 'hello.greeted', data: { name } });\n"
    "  logger.info('greeted', { name });\n"
    "  return { status: 200, body: { message: `Hello, ${name}` } };\n"
    "};\n";

static const char *js_event_step =
    "// Counts greetings per name in state group \"greetings\".\n"
    "exports.config = {\n"
    "  type: 'event',\n"
    "  name: 'CountGreetings',\n"
    "  flows: ['hello'],\n"
    "  subscribes: ['hello.greeted'],\n"
    "  emits: [],\n"
    "  input: { type: 'object', required: ['name'] },\n"
    "};\n"
    "\n"
    "exports.handler = async (input, { state }) => {\n"
    "  const prev = await state.get('greetings', input.name);\n"
    "  const count = (prev ? prev.count : 0) + 1;\n"
    "  await state.set('greetings', input.name, { name: input.name, count });\n"
    "};  // a throw is retried with backoff, then dead-lettered\n";

static const char *js_cron_step =
    "// Every 5 minutes, logs how many names have been greeted.\n"
    "exports.config = {\n"
    "  type: 'cron',\n"
    "  name: 'GreetingReport',\n"
    "  flows: ['hello'],\n"
    "  cron: '*/5 * * * *',\n"
    "  emits: [],\n"
    "};\n"
    "\n"
    "exports.handler = async ({ state, logger }) => {\n"
    "  const all = await state.getGroup('greetings');\n"
    "  logger.info('greeting report', { names: all.length });\n"
    "};\n";

/* ... and in Python (Motia's shapes: module-level config and async handler). */
static const char *py_api_step =
    "\"\"\"POST /hello {\"name\": \"Ada\"} answers a greeting and emits hello.greeted.\"\"\"\n"
    "\n"
    "config = {\n"
    "    \"type\": \"api\",\n"
    "    \"name\": \"HelloApi\",\n"
    "    \"description\": \"Greets a caller and records the greeting\",\n"
    "    \"flows\": [\"hello\"],\n"
    "    \"method\": \"POST\",\n"
    "    \"path\": \"/hello\",\n"
    "    \"bodySchema\": {\n"
    "        \"type\": \"object\",\n"
    "        \"required\": [\"name\"],\n"
    "        \"properties\": {\"name\": {\"type\": \"string\", \"minLength\": 1}},\n"
    "    },\n"
    "    \"emits\": [\"hello.greeted\"],\n"
    "}\n"
    "\n"
    "\n"
    "async def handler(req, context):\n"
    "    name = req[\"body\"][\"name\"]\n"
    "    await context.emit({\"topic\": \"hello.greeted\", \"data\": {\"name\": name}})\n"
    "    context.logger.info(\"greeted\", {\"name\": name})\n"
    "    return {\"status\": 200, \"body\": {\"message\": f\"Hello, {name}\"}}\n";

static const char *py_event_step =
    "\"\"\"Counts greetings per name in state group \"greetings\".\"\"\"\n"
    "\n"
    "config = {\n"
    "    \"type\": \"event\",\n"
    "    \"name\": \"CountGreetings\",\n"
    "    \"flows\": [\"hello\"],\n"
    "    \"subscribes\": [\"hello.greeted\"],\n"
    "    \"emits\": [],\n"
    "    \"input\": {\"type\": \"object\", \"required\": [\"name\"]},\n"
    "}\n"
    "\n"
    "\n"
    "async def handler(input, context):\n"
    "    prev = await context.state.get(\"greetings\", input[\"name\"])\n"
    "    count = (prev[\"count\"] if prev else 0) + 1\n"
    "    await context.state.set(\"greetings\", input[\"name\"], {\"name\": input[\"name\"], "
    "\"count\": count})\n";

static const char *py_cron_step =
    "\"\"\"Every 5 minutes, logs how many names have been greeted.\"\"\"\n"
    "\n"
    "config = {\n"
    "    \"type\": \"cron\",\n"
    "    \"name\": \"GreetingReport\",\n"
    "    \"flows\": [\"hello\"],\n"
    "    \"cron\": \"*/5 * * * *\",\n"
    "    \"emits\": [],\n"
    "}\n"
    "\n"
    "\n"
    "async def handler(context):\n"
    "    names = await context.state.get_group(\"greetings\")\n"
    "    context.logger.info(\"greeting report\", {\"names\": len(names)})\n";

static const char *config_json = "{\n  \"port\": 3000,\n  \"events\": {\"maxAttempts\": 3, "
                                 "\"backoffMs\": 1000}\n}\n";

static const char *smoke_test =
    "#!/usr/bin/env bash\n"
    "# Starts the project on a free port, posts a greeting and waits for the event step to\n"
    "# record it. Run from the project directory: bash tests/smoke.sh\n"
    "set -euo pipefail\n"
    "cd \"$(dirname \"$0\")/..\"\n"
    "STEPD=${STEPD:-stepd}\n"
    "tmp=$(mktemp -d)\n"
    "\"$STEPD\" start . --port 0 --port-file \"$tmp/port\" >\"$tmp/log\" 2>&1 &\n"
    "pid=$!\n"
    "trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf \"$tmp\"' EXIT\n"
    "for _ in $(seq 100); do [ -s \"$tmp/port\" ] && break; sleep 0.1; done\n"
    "port=$(cat \"$tmp/port\")\n"
    "out=$(curl -s -X POST \"http://127.0.0.1:$port/hello\" -H 'content-type: application/json' "
    "-d '{\"name\":\"Ada\"}')\n"
    "[ \"$out\" = '{\"message\":\"Hello, Ada\"}' ] || { echo \"unexpected: $out\"; exit 1; }\n"
    "code=$(curl -s -o /dev/null -w '%{http_code}' -X POST \"http://127.0.0.1:$port/hello\" -d '{}')\n"
    "[ \"$code\" = 400 ] || { echo \"missing name should be 400, got $code\"; exit 1; }\n"
    "for _ in $(seq 50); do\n"
    "  if \"$STEPD\" state get greetings Ada --port \"$port\" 2>/dev/null | grep -q '\"count\": *1'; then\n"
    "    echo ok; exit 0\n"
    "  fi\n"
    "  sleep 0.1\n"
    "done\n"
    "echo 'the event step did not record the greeting'; cat \"$tmp/log\"; exit 1\n";

static const char *gitignore = ".stepd/\n";

static int write_file(const char *dir, const char *name, const char *text, int mode) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "stepd new: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    fputs(text, f);
    fclose(f);
    chmod(path, (mode_t)mode);
    return 0;
}

int scaffold_main(int argc, char **argv) {
    const char *dir = NULL, *lang = "c";
    int bad = 0, help = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            help = 1;
        else if (!strcmp(argv[i], "--lang") && i + 1 < argc)
            lang = argv[++i];
        else if (!strncmp(argv[i], "--lang=", 7))
            lang = argv[i] + 7;
        else if (argv[i][0] != '-' && !dir)
            dir = argv[i];
        else
            bad = 1;
    }
    if (strcmp(lang, "c") && strcmp(lang, "js") && strcmp(lang, "python"))
        bad = 1;
    if (help || bad || !dir) {
        fprintf(help ? stdout : stderr,
                "usage: stepd new NAME [--lang c|js|python]\n\nCreates the folder NAME with "
                "stepd.json, an api, an event and a cron step under steps/ (in C by default),\n"
                "and tests/smoke.sh.\n");
        return help ? 0 : 2;
    }
    int js = !strcmp(lang, "js"), py = !strcmp(lang, "python");
    if (mkdir(dir, 0755)) {
        fprintf(stderr, "stepd new: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char sub[4096];
    snprintf(sub, sizeof(sub), "%s/steps", dir);
    mkdir(sub, 0755);
    snprintf(sub, sizeof(sub), "%s/tests", dir);
    mkdir(sub, 0755);
    const char *files[3][2] = {
        {js ? "steps/hello.step.js" : py ? "steps/hello_step.py" : "steps/hello.step.c",
         js ? js_api_step : py ? py_api_step : api_step},
        {js ? "steps/count_greetings.step.js"
            : py ? "steps/count_greetings_step.py" : "steps/count_greetings.step.c",
         js ? js_event_step : py ? py_event_step : event_step},
        {js ? "steps/report.step.js" : py ? "steps/report_step.py" : "steps/report.step.c",
         js ? js_cron_step : py ? py_cron_step : cron_step},
    };
    if (write_file(dir, "stepd.json", config_json, 0644) ||
        write_file(dir, files[0][0], files[0][1], 0644) ||
        write_file(dir, files[1][0], files[1][1], 0644) ||
        write_file(dir, files[2][0], files[2][1], 0644) ||
        write_file(dir, "tests/smoke.sh", smoke_test, 0755) ||
        write_file(dir, ".gitignore", gitignore, 0644))
        return 1;
    printf("created %s\n\n  cd %s\n  stepd dev            # http://localhost:3000\n"
           "  curl -X POST localhost:3000/hello -H 'content-type: application/json' "
           "-d '{\"name\":\"Ada\"}'\n  bash tests/smoke.sh  # the project's test\n",
           dir, dir);
    return 0;
}
