"""The registry carries each model's facts: typed options, training defaults, task, rebuild."""
import pytest

from nabla.models import Option, build_model, default_model_name, get_model_entry, model_names
from nabla.data.datasets import datasets_for_task, get_dataset_class


def test_every_option_has_a_type_and_every_entry_a_known_task_and_data_set():
    from nabla.train.tasks import task_names
    for name in model_names():
        e = get_model_entry(name)
        assert e.task in task_names(), name
        cls = get_dataset_class(e.default_dataset)
        assert e.task in getattr(cls, "tasks", (cls.task,)), name   # a data set may serve several tasks
        for k, o in e.option_specs.items():
            assert isinstance(o.type, type), (name, k)
            if o.default is not None:
                o.check(k, o.default, owner=name)


@pytest.mark.parametrize("text, value", [("256", 256), (" 3 ", 3)])
def test_int_option_parses(text, value):
    assert get_model_entry("mlp").parse_option("width", text) == ("width", value)


@pytest.mark.parametrize("text", ["abc", "2.5", "1e3"])
def test_int_option_rejects_other_text_naming_option_type_and_value(text):
    with pytest.raises(ValueError) as e:
        get_model_entry("mlp").parse_option("width", text)
    msg = str(e.value)
    assert "width" in msg and "int" in msg and repr(text) in msg and "\n" not in msg


@pytest.mark.parametrize("text, value", [("true", True), ("no", False), ("1", True), ("off", False), ("Yes", True)])
def test_bool_option_spellings(text, value):
    assert get_model_entry("mlp").parse_option("batch_norm", text) == ("batch_norm", value)


def test_bool_and_choice_options_reject_nonsense():
    with pytest.raises(ValueError, match="batch_norm.*bool.*'maybe'"):
        get_model_entry("mlp").parse_option("batch_norm", "maybe")
    with pytest.raises(ValueError, match="activation.*must be one of"):
        get_model_entry("mlp").parse_option("activation", "swish")
    with pytest.raises(ValueError, match="has no option 'colour'"):
        get_model_entry("mlp").parse_option("colour", "red")
    with pytest.raises(ValueError, match="expects int"):
        build_model("mlp", (1, 28, 28), 10, width=2.5)


def test_option_without_default_declares_its_type():
    with pytest.raises(TypeError, match="must declare its type"):
        Option(None)
    o = Option(None, type=int)
    assert o.parse("n", "none") is None and o.parse("n", "7") == 7


def test_training_defaults_and_facts():
    assert default_model_name() == "mlp"
    assert get_model_entry("resnet20").training["optimizer"] == "momentum"
    assert get_model_entry("gpt").options_from_settings == {"max_len": "seq_len"}
    assert get_model_entry("gpt").training["warmup"] > 0
    assert "kjv" in datasets_for_task("lm") and "cmudict" in datasets_for_task("seq2seq")
    assert get_dataset_class("mnist").mirror_preserves_labels is False
    assert get_dataset_class("fashion-mnist").mirror_preserves_labels is True
    assert get_dataset_class("kjv-rv1909").metric == "bleu"


def test_googlenet_rebuild_shim_for_files_without_aux_heads():
    e = get_model_entry("googlenet-small")
    config = {"in_shape": [1, 28, 28], "num_classes": 10, "options": {"width": 0.125}}
    without_aux = build_model("googlenet-small", (1, 28, 28), 10, width=0.125, aux_logits=False)
    model = e.rebuild(config, without_aux.state_dict())
    assert not any(k.startswith("aux") for k in model.state_dict())
