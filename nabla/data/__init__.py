"""Data: datasets, samplers, DataLoader, batch transforms, and real data sets (torch.utils.data names)."""
from . import datasets, transforms  # noqa: F401
from .dataloader import DataLoader, default_collate, default_convert
from .distributed_sampler import DistributedSampler
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .datasets import get_dataset, list_datasets
from .datasets.scenes import detection_collate  # noqa: F401  (detection batches keep per-image target lists)
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "Sampler",
           "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler", "BatchSampler", "DistributedSampler",
           "DataLoader", "default_collate", "default_convert", "datasets", "transforms", "get_dataset",
           "list_datasets", "detection_collate"]
