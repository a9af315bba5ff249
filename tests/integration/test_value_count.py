"""Value count vs shape, against the real server with its default limits
(--max-rows 65536, --max-body 64M): the review's body of 65535 rows of empty
arrays and one real row claims 65536 rows while carrying 4 values. Before the
fix the server ran the model over 65536 rows of memory past its buffer (200
without ASan, a heap-buffer-overflow report with it). Each variant must be a
400 naming the field, and the server must go on answering correctly."""

import numpy as np
import pytest

import helpers
from helpers import assert_error, post

EMPTY = 65535  # + 1 real row = 65536 rows, exactly the default --max-rows
REAL_ROW = "[5.1,3.5,1.4,0.2]"
JSON = {"Content-Type": "application/json"}


def rows(empty_row, last):
    return "[" + (empty_row + ",") * EMPTY + last + "]"


def x_rows(n, width):
    row = "[" + ",".join(["1"] * width) + "]"
    return "[" + ",".join([row] * n) + "]"


@pytest.fixture(scope="module")
def default_server(repo, tmp_path_factory):
    """A server with every limit at its default: the shared one lowers
    --max-rows, which would hide the bug behind a 413."""
    with helpers.serving(repo[0], ["--threads", "2"],
                         log_dir=str(tmp_path_factory.mktemp("logs"))) as s:
        yield s


def v2_input(name, shape, datatype, data, shape_first=True):
    shape_s = '"shape":[%s]' % ",".join(str(d) for d in shape)
    data_s = '"data":' + data
    fields = [shape_s, data_s] if shape_first else [data_s, shape_s]
    return '{"name":"%s","datatype":"%s",%s}' % (name, datatype, ",".join(fields))


CASES = {
    # the review's body, verbatim, on v1
    "v1_instances": ("/v1/models/iris:predict",
                     '{"instances":' + rows("[[],[],[],[]]", REAL_ROW) + "}",
                     "instances[65535][0]: mixes numbers and arrays at one level"),
    "v1_inputs": ("/v1/models/iris:predict",
                  '{"inputs":{"input":' + rows("[[],[],[],[]]", REAL_ROW) + "}}",
                  "inputs.input[65535][0]: mixes numbers and arrays"),
    "v1_labels": ("/v1/models/iris:predict",
                  '{"instances":' + x_rows(EMPTY + 1, 4) + ',"labels":' + rows("[[]]", "[0]")
                  + "}",
                  "labels[65535][0]: mixes numbers and arrays"),
    "v1_targets": ("/v1/models/reg:predict",
                   '{"instances":' + x_rows(EMPTY + 1, 5) + ',"targets":'
                   + rows("[[],[]]", "[0.5,1]") + "}",
                   "targets[65535][0]: mixes numbers and arrays"),
    # v2: empty arrays nested deeper than the numbers, shape before and after data
    "v2_shape_before_data": ("/v2/models/iris/infer",
                             '{"inputs":[' + v2_input("input", [EMPTY + 1, 4], "FP32",
                                                      rows("[[],[],[],[]]", REAL_ROW)) + "]}",
                             "inputs[0].data[65535][0]: mixes numbers and arrays"),
    "v2_shape_after_data": ("/v2/models/iris/infer",
                            '{"inputs":[' + v2_input("input", [EMPTY + 1, 4], "FP32",
                                                     rows("[[],[],[],[]]", REAL_ROW),
                                                     shape_first=False) + "]}",
                            "inputs[0].data[65535][0]: mixes numbers and arrays"),
    "v2_labels": ("/v2/models/iris/infer",
                  '{"inputs":[' + v2_input("input", [EMPTY + 1, 4], "FP32", x_rows(EMPTY + 1, 4))
                  + "," + v2_input("labels", [EMPTY + 1, 1], "INT32", rows("[[]]", "[0]"),
                                   shape_first=False) + "]}",
                  "inputs[1].data[65535][0]: mixes numbers and arrays"),
    "v2_targets": ("/v2/models/reg/infer",
                   '{"inputs":[' + v2_input("input", [EMPTY + 1, 5], "FP32", x_rows(EMPTY + 1, 5))
                   + "," + v2_input("targets", [EMPTY + 1, 2], "FP32",
                                    rows("[[],[]]", "[0.5,1]"), shape_first=False) + "]}",
                   "inputs[1].data[65535][0]: mixes numbers and arrays"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rows_of_empty_arrays_are_400_naming_the_field(default_server, models, case):
    path, body, msg = CASES[case]
    port = default_server.port
    r = post(port, path, body.encode(), headers=JSON, timeout=60 * helpers.SLOW)
    assert_error(r, 400, msg)
    # Still serving, and correctly.
    x = np.array([[0.5, 0.5, -0.5, 1.0]], np.float32)
    r = post(port, "/v2/models/tiny/infer", helpers.v2_body(x, labels=[2], diag="full"))
    assert r.status == 200, r
    helpers.check_v2_response(r.json(), models["tiny"]["1"], x, "tiny", "1", labels=[2],
                              diag="full")
    assert default_server.proc.poll() is None
