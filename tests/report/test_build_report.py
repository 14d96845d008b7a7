"""`archc build`'s format matrix reads only the manifest: a format's remark (`status_tag`) and the
bitwise check show beside the status, with no format named in the report's code."""
from __future__ import annotations

from archc.report.build import matrix_rows


def test_a_formats_status_tag_and_bitwise_flag_show_beside_its_status():
    doc = {"artifacts": {
        "torchscript": {"status": "verified", "status_tag": "traced", "max_abs_diff": 0.0, "size_bytes": 2048},
        "pt2": {"status": "verified", "bitwise_equal": True, "max_abs_diff": 0.0},
        "onnx": {"status": "failed"},
    }}
    rows = {r[0]: r for r in matrix_rows(doc)}
    assert rows["torchscript"][1] == "verified (traced)" and rows["torchscript"][4] == "2.0 KB"
    assert rows["pt2"][1] == "verified (bitwise)"
    assert rows["onnx"][1] == "failed" and rows["onnx"][2] == "-"


def test_the_report_names_no_format():
    import inspect

    import archc.report.build as rb
    from archc.export.registry import load_formats

    src = inspect.getsource(rb)
    assert not [f for f in load_formats() if f'"{f}"' in src]
