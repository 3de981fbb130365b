import json

import numpy as np
import pytest

import nabla as nb
from nabla import nn, optim
from nabla.data import DataLoader, TensorDataset
from nabla.train import (CSVLogger, EarlyStopping, JSONLogger, ModelCheckpoint, Trainer, TrainingDiverged,
                         load_checkpoint)


def blobs(n=240, seed=0):
    """Three Gaussian blobs in 4-D: an easy, real classification problem."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (3, 4))
    y = rng.integers(0, 3, n)
    x = (centers[y] + rng.normal(0, 0.7, (n, 4))).astype(np.float32)
    return TensorDataset(nb.tensor(x), nb.tensor(y))


def make(seed=0, dropout=0.2):
    nb.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))
    opt = optim.Adam(model.parameters(), lr=0.01)
    return model, opt


def test_fit_learns_and_records_history():
    model, opt = make()
    data = blobs()
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, progress=False)
    hist = trainer.fit(DataLoader(data, batch_size=32, shuffle=True, seed=0), DataLoader(data, batch_size=64),
                       epochs=5)
    assert set(["loss", "accuracy", "val_loss", "val_accuracy", "lr", "time"]) <= set(hist)
    assert len(hist["loss"]) == 5 and hist["loss"][-1] < hist["loss"][0]
    assert trainer.evaluate(DataLoader(data, batch_size=50))["accuracy"] > 0.9
    assert trainer.predict(DataLoader(data, batch_size=50)).shape == (240, 3)


def test_resume_matches_uninterrupted_run(tmp_path):
    data = blobs()
    # uninterrupted: 3 epochs
    model_a, opt_a = make()
    sched_a = optim.lr_scheduler.StepLR(opt_a, step_size=1, gamma=0.5)
    loader_a = DataLoader(data, batch_size=32, shuffle=True, seed=1)
    Trainer(model_a, nn.CrossEntropyLoss(), opt_a, scheduler=sched_a, progress=False).fit(loader_a, epochs=3)
    # interrupted after 1 epoch, then resumed in fresh objects
    model_b, opt_b = make()
    sched_b = optim.lr_scheduler.StepLR(opt_b, step_size=1, gamma=0.5)
    loader_b = DataLoader(data, batch_size=32, shuffle=True, seed=1)
    t_b = Trainer(model_b, nn.CrossEntropyLoss(), opt_b, scheduler=sched_b, progress=False)
    t_b.fit(loader_b, epochs=1)
    path = t_b.save_checkpoint(tmp_path / "mid.safetensors")
    nb.manual_seed(123)  # disturb the global generator: resume must restore it
    model_c, opt_c = make(seed=99)
    sched_c = optim.lr_scheduler.StepLR(opt_c, step_size=1, gamma=0.5)
    loader_c = DataLoader(data, batch_size=32, shuffle=True, seed=1)
    t_c = Trainer(model_c, nn.CrossEntropyLoss(), opt_c, scheduler=sched_c, progress=False)
    t_c.resume(path, loader_c)
    assert t_c.epoch == 1
    t_c.fit(loader_c, epochs=3)
    for (name, a), (_, c) in zip(model_a.state_dict().items(), model_c.state_dict().items()):
        np.testing.assert_array_equal(a.data, c.data, err_msg=name)
    assert opt_c.param_groups[0]["lr"] == opt_a.param_groups[0]["lr"]


def test_nan_loss_stops_with_clear_message():
    model, opt = make(dropout=0.0)
    x = np.ones((8, 4), np.float32)
    x[3, 1] = np.nan
    loader = DataLoader(TensorDataset(nb.tensor(x), nb.tensor(np.zeros(8, np.int64))), batch_size=4)
    with pytest.raises(TrainingDiverged, match="loss became nan at epoch 1, batch 1"):
        Trainer(model, nn.CrossEntropyLoss(), opt, progress=False).fit(loader, epochs=1)


def test_callbacks_early_stopping_checkpoints_and_logs(tmp_path):
    model, opt = make()
    data = blobs()
    stopper = EarlyStopping("val_loss", patience=1, min_delta=10.0)  # nothing improves by 10: stops fast
    ck = ModelCheckpoint(tmp_path / "ck", monitor="val_accuracy")
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt, progress=False,
                      callbacks=[stopper, ck, CSVLogger(tmp_path / "h.csv"), JSONLogger(tmp_path / "h.json")],
                      config={"model": "toy"})
    hist = trainer.fit(DataLoader(data, batch_size=32), DataLoader(data, batch_size=64), epochs=10)
    assert len(hist["loss"]) == 2 and stopper.stopped_epoch == 1
    assert load_checkpoint(ck.last_path)["epoch"] == 2
    assert load_checkpoint(ck.best_path)["config"] == {"model": "toy"}
    assert (tmp_path / "h.csv").read_text().count("\n") == 3
    assert len(json.loads((tmp_path / "h.json").read_text())["loss"]) == 2
