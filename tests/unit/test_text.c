/*
 * test_text.c: escaping text from guests and clients for terminals
 * (toolstack/text.c), and the rule for guest names (guest_name.c).
 */
#include "unit.h"

#include "toolstack/guest_name.h"
#include "toolstack/text.h"

static const char *esc(const char *s)
{
    static char buf[256];
    return text_escape(s, buf, sizeof buf);
}

static void test_plain_text_unchanged(void **state)
{
    (void)state;
    assert_string_equal(esc("/srv/img/web-1.elf"), "/srv/img/web-1.elf");
    assert_string_equal(esc("exited with status 3"), "exited with status 3");
    assert_string_equal(esc(""), "");
    /* Valid UTF-8 stays as it is: é, €, 𝄞. */
    assert_string_equal(esc("caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e"),
                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e");
}

static void test_controls_escaped(void **state)
{
    (void)state;
    assert_string_equal(esc("a\x1b[31mred"), "a\\x1b[31mred");
    assert_string_equal(esc("line\r\nforged"), "line\\x0d\\x0aforged");
    assert_string_equal(esc("tab\tbell\a del\x7f"),
                        "tab\\x09bell\\x07 del\\x7f");
    assert_string_equal(esc("back\\slash"), "back\\\\slash");
    /* C1 CSI as UTF-8 (U+009B) and as a raw byte. */
    assert_string_equal(esc("\xc2\x9b"
                            "2J"),
                        "\\xc2\\x9b2J");
    assert_string_equal(esc("\x9b"
                            "2J"),
                        "\\x9b2J");
    /* A right-to-left override reorders what the terminal shows. */
    assert_string_equal(esc("a\xe2\x80\xae"
                            "b"),
                        "a\\xe2\\x80\\xaeb");
    assert_string_equal(esc("a\xe2\x81\xa6"
                            "b"),
                        "a\\xe2\\x81\\xa6b");
}

static void test_invalid_utf8_escaped(void **state)
{
    (void)state;
    assert_string_equal(esc("\xc3"), "\\xc3");          /* cut short */
    assert_string_equal(esc("\xc0\xaf"), "\\xc0\\xaf"); /* overlong '/' */
    assert_string_equal(esc("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");
    assert_string_equal(esc("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* surrogate */
    assert_string_equal(esc("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
    assert_string_equal(esc("\xff"), "\\xff");
}

static void test_truncation(void **state)
{
    (void)state;
    char buf[8];
    /* Never half an escape: "ab" fits, "\x1b" (4) would not. */
    assert_string_equal(text_escape("abcde\x1b", buf, sizeof buf), "abcde");
    assert_string_equal(text_escape("ab\x1b"
                                    "cdef",
                                    buf, sizeof buf),
                        "ab\\x1bc");
    /* Never half a character. */
    assert_string_equal(text_escape("abcde\xe2\x82\xac", buf, sizeof buf),
                        "abcde");
    char one[1];
    assert_string_equal(text_escape("abc", one, sizeof one), "");
    /* The worst case fits in TEXT_ESCAPED_MAX. */
    char big[TEXT_ESCAPED_MAX(3)];
    assert_string_equal(text_escape("\x01\x02\x03", big, sizeof big),
                        "\\x01\\x02\\x03");
}

static void test_name_rule(void **state)
{
    (void)state;
    assert_true(guest_name_valid("web"));
    assert_true(guest_name_valid("Web.1_a-b"));
    assert_true(guest_name_valid("9lives"));
    char longest[64];
    memset(longest, 'a', 63);
    longest[63] = 0;
    assert_true(guest_name_valid(longest));
    char too_long[65];
    memset(too_long, 'a', 64);
    too_long[64] = 0;
    assert_false(guest_name_valid(too_long));
    assert_false(guest_name_valid(""));
    assert_false(guest_name_valid("-web"));
    assert_false(guest_name_valid(".web"));
    assert_false(guest_name_valid("_web"));
    assert_false(guest_name_valid("alice/web"));
    assert_false(guest_name_valid("web\x1b[31m"));
    assert_false(guest_name_valid("web\r"));
    assert_false(guest_name_valid("web\n"));
    assert_false(guest_name_valid("w eb"));
    assert_false(guest_name_valid("caf\xc3\xa9"));
}

static void test_name_sanitize(void **state)
{
    (void)state;
    char buf[64];
    guest_name_sanitize("redis", buf, sizeof buf);
    assert_string_equal(buf, "redis");
    guest_name_sanitize("\x1b[31mred\nline", buf, sizeof buf);
    assert_string_equal(buf, "31mred_line");
    guest_name_sanitize("..my app/v2", buf, sizeof buf);
    assert_string_equal(buf, "my_app_v2");
    guest_name_sanitize("\n\x1b", buf, sizeof buf);
    assert_string_equal(buf, "guest");
    char small[5];
    guest_name_sanitize("abcdefgh", small, sizeof small);
    assert_string_equal(small, "abcd");
    char huge[101], out[128];
    memset(huge, 'x', 100);
    huge[100] = 0;
    guest_name_sanitize(huge, out, sizeof out); /* at most the rule's 63 */
    assert_int_equal(strlen(out), GUEST_NAME_MAX);
    assert_true(guest_name_valid(out));
}

static void test_forbidden_nr(void **state)
{
    (void)state;
    assert_int_equal(text_forbidden_nr("forbidden system call 59"), 59);
    assert_int_equal(text_forbidden_nr("forbidden system call 0"), 0);
    assert_int_equal(text_forbidden_nr("forbidden system call 1073742081"),
                     1073742081);
    assert_int_equal(text_forbidden_nr("forbidden system call 2147483648"), -1);
    assert_int_equal(
        text_forbidden_nr("forbidden system call 99999999999999999999"), -1);
    assert_int_equal(text_forbidden_nr("forbidden system call -1"), -1);
    assert_int_equal(text_forbidden_nr("forbidden system call "), -1);
    assert_int_equal(text_forbidden_nr("forbidden system call 5x"), -1);
    assert_int_equal(text_forbidden_nr("abort()"), -1);
    assert_int_equal(text_forbidden_nr(""), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text_unchanged),
        cmocka_unit_test(test_controls_escaped),
        cmocka_unit_test(test_invalid_utf8_escaped),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_name_rule),
        cmocka_unit_test(test_name_sanitize),
        cmocka_unit_test(test_forbidden_nr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
