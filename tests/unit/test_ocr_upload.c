/* test_ocr_upload.c — multipart/form-data uploads and raw bodies for document processing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <stepd/ai/ocr.h>
#include <stepd/step.h>

static const char form[] = "preamble to ignore\r\n"
                           "--XyZ\r\n"
                           "Content-Disposition: form-data; name=\"note\"\r\n\r\n"
                           "hello\r\n"
                           "--XyZ\r\n"
                           "Content-Disposition: form-data; name=\"file\"; filename=\"inv.pdf\"\r\n"
                           "Content-Type: Application/PDF; q=1\r\n\r\n"
                           "%PDF-1.4 bytes\r\n--XyZ not a delimiter\r\n"
                           "--XyZ--\r\nepilogue";

static void test_multipart_parts_point_into_the_body(void **state) {
    (void)state;
    ai_ocr_part parts[4];
    size_t n;
    char *err = NULL;
    assert_int_equal(ai_ocr_multipart_parse("multipart/form-data; boundary=\"XyZ\"", form,
                                            sizeof(form) - 1, 0, parts, 4, &n, &err),
                     0);
    assert_int_equal(n, 2);
    assert_int_equal(parts[0].name_len, 4);
    assert_memory_equal(parts[0].name, "note", 4);
    assert_int_equal(parts[0].len, 5);
    assert_memory_equal(parts[1].filename, "inv.pdf", 7);
    const char *want = "%PDF-1.4 bytes\r\n--XyZ not a delimiter";
    assert_int_equal(parts[1].len, strlen(want));
    assert_memory_equal(parts[1].data, want, strlen(want));
    assert_true(parts[1].data > form && parts[1].data < form + sizeof(form));

    const char *doc;
    size_t len;
    char *mime;
    assert_int_equal(ai_ocr_upload_document("multipart/form-data; boundary=XyZ", form,
                                            sizeof(form) - 1, NULL, 0, &doc, &len, &mime, &err),
                     0);
    assert_int_equal(len, strlen(want));
    assert_string_equal(mime, "application/pdf");
    free(mime);
}

static void expect_fail(const char *ct, const char *body, size_t max, int code, const char *needle) {
    const char *doc;
    size_t len;
    char *mime = NULL, *err = NULL;
    int rc = ai_ocr_upload_document(ct, body, strlen(body), NULL, max, &doc, &len, &mime, &err);
    print_message("  %s\n", err ? err : "(no message)");
    assert_int_equal(rc, code);
    assert_non_null(err);
    assert_non_null(strstr(err, needle));
    assert_null(mime);
    free(err);
}

static void test_bad_uploads_fail_clearly(void **state) {
    (void)state;
    expect_fail("multipart/form-data", "x", 0, STEP_EPARSE, "boundary");
    expect_fail("multipart/form-data; boundary=b", "no delimiter here", 0, STEP_EPARSE,
                "boundary not found");
    expect_fail("multipart/form-data; boundary=b",
                "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\ntruncated", 0,
                STEP_EPARSE, "not closed");
    expect_fail("multipart/form-data; boundary=b",
                "--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--", 0,
                STEP_EINVAL, "no 'file' file field");
    expect_fail("multipart/form-data; boundary=b",
                "--b\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\n0123456789\r\n--b--",
                4, STEP_EINVAL, "limit is 4");
    expect_fail("image/png", "", 0, STEP_EINVAL, "body is empty");
    expect_fail("image/png", "0123456789", 4, STEP_EINVAL, "limit is 4");
}

static void test_raw_body_keeps_its_declared_type(void **state) {
    (void)state;
    const char *doc;
    size_t len;
    char *mime, *err = NULL;
    assert_int_equal(ai_ocr_upload_document("Image/PNG ; charset=x", "\x89PNG....", 8, NULL, 0,
                                            &doc, &len, &mime, &err),
                     0);
    assert_int_equal(len, 8);
    assert_string_equal(mime, "image/png");
    free(mime);
    assert_int_equal(ai_ocr_upload_document(NULL, "abc", 3, NULL, 0, &doc, &len, &mime, &err), 0);
    assert_null(mime);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multipart_parts_point_into_the_body),
        cmocka_unit_test(test_bad_uploads_fail_clearly),
        cmocka_unit_test(test_raw_body_keeps_its_declared_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
