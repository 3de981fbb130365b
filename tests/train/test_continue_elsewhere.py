"""A checkpoint resumed on another number of processes (nabla.train.run.continue_elsewhere): the global step
goes on, the batch within the epoch is converted to the new effective batch, and the loader's recorded state is
kept only where every rank shares its generator (length buckets, random LM windows), never for a loader whose
generator a DistributedSampler would not know."""
from types import SimpleNamespace

import numpy as np

from nabla.data import DataLoader, TensorDataset
from nabla.train.run import continue_elsewhere
from nabla.train.steps.batches import BucketBatches


class _Ragged:
    def __init__(self, n=40):
        self.items = [(np.arange(1 + i % 7), i % 3) for i in range(n)]
        self.lengths = np.array([len(x) for x, _ in self.items])

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _run(loader, written_by: int, batch_in_epoch: int = 6):
    trainer = SimpleNamespace(global_step=26, batch_in_epoch=batch_in_epoch, _epoch_loader_state={"recorded": 1})
    return SimpleNamespace(state={"config": {"world_size": written_by}}, trainer=trainer,
                           settings={"batch_size": 4}, data=SimpleNamespace(extra={"loader": loader}))


def test_the_epoch_continues_from_the_samples_done_at_the_new_effective_batch():
    lines = []
    run = _run(BucketBatches(_Ragged(), 4, seed=1), written_by=1)
    continue_elsewhere(run, 2, lines.append)
    assert run.trainer.batch_in_epoch == 3 and run.trainer.global_step == 26
    assert "written by 1 process (effective batch 4); this run has 2 (effective batch 8)" in lines[0]


def test_a_shared_generator_keeps_its_state_a_samplers_does_not():
    buckets = _run(BucketBatches(_Ragged(), 4, seed=1), written_by=2)
    continue_elsewhere(buckets, 3, lambda line: None)
    assert buckets.trainer._epoch_loader_state == {"recorded": 1}
    plain = DataLoader(TensorDataset(np.zeros((40, 2), np.float32)), batch_size=4, shuffle=True, seed=0)
    sampled = _run(plain, written_by=1)
    continue_elsewhere(sampled, 2, lambda line: None)
    assert sampled.trainer._epoch_loader_state is None


def test_the_same_number_of_processes_changes_nothing():
    run = _run(BucketBatches(_Ragged(), 4, seed=1), written_by=2)
    continue_elsewhere(run, 2, lambda line: (_ for _ in ()).throw(AssertionError(line)))
    assert run.trainer.batch_in_epoch == 6 and run.trainer._epoch_loader_state == {"recorded": 1}
