/*
 * test_protobuf — the wire-format reader under the ONNX loader: every wire
 * type, varint limits (10 bytes, 64 bits), lengths past the buffer, refused
 * wire types and field 0, and the nesting limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protobuf.h"

static mlp_pb_status first(const uint8_t *d, size_t n, mlp_pb_field *f)
{
    mlp_pb_reader r = mlp_pb_reader_init(d, n);
    return mlp_pb_next(&r, f);
}

static void test_every_wire_type(void **s)
{
    (void)s;
    /* field 1 varint 300; field 2 fixed64; field 3 "abc"; field 4 fixed32 */
    const uint8_t d[] = {0x08, 0xac, 0x02, 0x11, 1,   2,   3,    4,    5,    6,    7,
                         8,    0x1a, 3,    'a',  'b', 'c', 0x25, 0x78, 0x56, 0x34, 0x12};
    mlp_pb_reader r = mlp_pb_reader_init(d, sizeof d);
    mlp_pb_field f;
    assert_int_equal(mlp_pb_next(&r, &f), MLP_PB_OK);
    assert_int_equal(f.number, 1);
    assert_int_equal(f.wire, MLP_PB_VARINT);
    assert_int_equal(f.value, 300);
    assert_int_equal(mlp_pb_next(&r, &f), MLP_PB_OK);
    assert_int_equal(f.wire, MLP_PB_I64);
    assert_true(f.value == 0x0807060504030201ull);
    assert_int_equal(mlp_pb_next(&r, &f), MLP_PB_OK);
    assert_int_equal(f.wire, MLP_PB_LEN);
    assert_int_equal(f.len, 3);
    assert_memory_equal(f.data, "abc", 3);
    assert_int_equal(mlp_pb_next(&r, &f), MLP_PB_OK);
    assert_int_equal(f.number, 4);
    assert_true(f.value == 0x12345678u);
    assert_int_equal(mlp_pb_next(&r, &f), MLP_PB_END);
    assert_int_equal(mlp_pb_offset(&r), sizeof d);
}

static void test_varint_limits(void **s)
{
    (void)s;
    mlp_pb_field f;
    /* 2^64 - 1 takes exactly 10 bytes, the last holding bit 63 */
    const uint8_t max[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(first(max, sizeof max, &f), MLP_PB_OK);
    assert_true(f.value == UINT64_MAX);
    const uint8_t over[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    assert_int_equal(first(over, sizeof over, &f), MLP_PB_ERR_VARINT);
    const uint8_t eleven[] = {0x08, 0x80, 0x80, 0x80, 0x80, 0x80,
                              0x80, 0x80, 0x80, 0x80, 0x80, 0x00};
    assert_int_equal(first(eleven, sizeof eleven, &f), MLP_PB_ERR_VARINT);
    const uint8_t cut[] = {0x08, 0x80};
    assert_int_equal(first(cut, sizeof cut, &f), MLP_PB_ERR_VARINT);
    const uint8_t cut_key[] = {0x88};
    assert_int_equal(first(cut_key, sizeof cut_key, &f), MLP_PB_ERR_VARINT);
    /* non-minimal but legal: 0 in two bytes */
    const uint8_t padded[] = {0x08, 0x80, 0x00};
    assert_int_equal(first(padded, sizeof padded, &f), MLP_PB_OK);
    assert_true(f.value == 0);
}

static void test_lengths_and_fixed_past_the_end(void **s)
{
    (void)s;
    mlp_pb_field f;
    const uint8_t len[] = {0x0a, 0x05, 'a', 'b'};
    assert_int_equal(first(len, sizeof len, &f), MLP_PB_ERR_TRUNCATED);
    const uint8_t huge[] = {0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(first(huge, sizeof huge, &f), MLP_PB_ERR_TRUNCATED);
    const uint8_t f64[] = {0x09, 1, 2, 3};
    assert_int_equal(first(f64, sizeof f64, &f), MLP_PB_ERR_TRUNCATED);
    const uint8_t f32[] = {0x0d, 1, 2, 3};
    assert_int_equal(first(f32, sizeof f32, &f), MLP_PB_ERR_TRUNCATED);
    assert_int_equal(first(NULL, 0, &f), MLP_PB_END);
}

static void test_refused_wire_types_and_field_zero(void **s)
{
    (void)s;
    mlp_pb_field f;
    for (uint8_t w = 3; w <= 7; w++) {
        if (w == 5) continue;
        uint8_t d[] = {(uint8_t)(0x08 | w), 0, 0, 0, 0, 0, 0, 0, 0};
        assert_int_equal(first(d, sizeof d, &f), MLP_PB_ERR_WIRE);
    }
    const uint8_t zero[] = {0x00, 0x01};
    assert_int_equal(first(zero, sizeof zero, &f), MLP_PB_ERR_FIELD);
    /* field number 2^29 does not fit protobuf's 29 bits */
    const uint8_t big[] = {0x80, 0x80, 0x80, 0x80, 0x20, 0x00};
    assert_int_equal(first(big, sizeof big, &f), MLP_PB_ERR_FIELD);
}

/* Message i holds message i+1 as field 1; entering stops at the limit. */
static void test_nesting_limit(void **s)
{
    (void)s;
    enum { LEVELS = MLP_PB_MAX_DEPTH + 4 };
    uint8_t d[2 * LEVELS];
    for (int i = 0; i < LEVELS; i++) {
        d[2 * i] = 0x0a;
        d[2 * i + 1] = (uint8_t)(2 * (LEVELS - 1 - i));
    }
    mlp_pb_reader r = mlp_pb_reader_init(d, sizeof d), sub;
    mlp_pb_field f;
    int depth = 0;
    mlp_pb_status st;
    for (;;) {
        assert_int_equal(mlp_pb_next(&r, &f), MLP_PB_OK);
        st = mlp_pb_enter(&r, &f, &sub);
        if (st != MLP_PB_OK) break;
        r = sub;
        depth++;
    }
    assert_int_equal(st, MLP_PB_ERR_DEPTH);
    assert_int_equal(depth, MLP_PB_MAX_DEPTH);
    assert_non_null(strstr(mlp_pb_status_str(st), "nested"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_wire_type),
        cmocka_unit_test(test_varint_limits),
        cmocka_unit_test(test_lengths_and_fixed_past_the_end),
        cmocka_unit_test(test_refused_wire_types_and_field_zero),
        cmocka_unit_test(test_nesting_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
