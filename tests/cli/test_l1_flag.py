"""`nabla train --l1 LAMBDA`, beside --weight-decay: parsed into the training settings, refused when negative."""
import pytest

from nabla.cli import build_parser
from nabla.cli.common import UsageError
from nabla.cli.train import request_from

from .helpers import assert_one_line_error, epoch_lines, nabla, show


def _request(*argv):
    return request_from(build_parser().parse_args(["train", *argv]))


def test_the_flag_sets_the_l1_setting_beside_weight_decay():
    request = _request("mlp", "--l1", "1e-4", "--weight-decay", "5e-4")
    assert request.settings["l1"] == 1e-4 and request.settings["weight_decay"] == 5e-4
    assert "l1" not in _request("mlp").settings            # not given: the model's default (0) applies


@pytest.mark.parametrize("argument,message", [("--l1=-1e-4", "--l1 must not be negative, got -0.0001"),
                                              ("--l1=nan", "--l1 must be a finite number, got nan")])
def test_a_negative_or_nan_strength_is_refused_in_the_parser(argument, message):
    with pytest.raises(UsageError, match=message):
        _request("mlp", argument)


def test_the_command_refuses_a_negative_strength_in_one_line_before_any_work(tmp_path):
    res = nabla("train", "linear-regression", "--l1", "-1", "--quiet", cwd=tmp_path)
    assert_one_line_error(res, 2, "--l1", "must not be negative", "-1")
    assert not epoch_lines(res.stdout) and not list(tmp_path.rglob("*.safetensors")), show(res)
    res = nabla("train", "linear-regression", "--l1", "abc", "--quiet", cwd=tmp_path)
    assert_one_line_error(res, 2, "--l1", "abc")
