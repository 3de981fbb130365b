"""nabla.nn.utils.rnn: packing and padding (against torch.nn.utils.rnn where it is installed), gradients
through them, sequence_mask, detach_hidden and truncated_bptt."""
import numpy as np
import pytest

import nabla as nb
from nabla.autograd.numerical import gradcheck
from nabla.nn.utils import rnn as U


def _x(T=5, B=3, F=2, seed=0):
    return np.random.default_rng(seed).standard_normal((T, B, F))


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [5, 3, 1]), (False, [3, 5, 1]), (False, [2, 2, 4])])
def test_pack_pad_roundtrip_and_layout(batch_first, enforce_sorted, lengths):
    x = _x()
    if batch_first:
        x = x.transpose(1, 0, 2).copy()
    p = U.pack_padded_sequence(nb.tensor(x), lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    assert p.data.shape == (sum(lengths), 2)
    T = max(lengths)
    assert p.batch_sizes.data.tolist() == [sum(n > t for n in lengths) for t in range(T)]
    padded, lens = U.pad_packed_sequence(p, batch_first=batch_first)
    assert lens.data.tolist() == list(lengths)
    xm = x if not batch_first else x.transpose(1, 0, 2)
    pm = padded.data if not batch_first else padded.data.transpose(1, 0, 2)
    for b, n in enumerate(lengths):
        np.testing.assert_array_equal(pm[:n, b], xm[:n, b])
        assert np.all(pm[n:, b] == 0)
    assert np.array_equal(p.lengths(), np.array(lengths))


def test_matches_torch_packing():
    torch = pytest.importorskip("torch")
    x = _x()
    lengths = [3, 5, 2]
    pt = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), lengths, enforce_sorted=False)
    pn = U.pack_padded_sequence(nb.tensor(x), lengths, enforce_sorted=False)
    np.testing.assert_array_equal(pn.data.data, pt.data.numpy())
    np.testing.assert_array_equal(pn.batch_sizes.data, pt.batch_sizes.numpy())
    np.testing.assert_array_equal(pn.sorted_indices.data, pt.sorted_indices.numpy())
    np.testing.assert_array_equal(pn.unsorted_indices.data, pt.unsorted_indices.numpy())
    padded_t, _ = torch.nn.utils.rnn.pad_packed_sequence(pt, batch_first=True, padding_value=-1.0, total_length=6)
    padded_n, _ = U.pad_packed_sequence(pn, batch_first=True, padding_value=-1.0, total_length=6)
    np.testing.assert_array_equal(padded_n.data, padded_t.numpy())
    seqs = [np.random.default_rng(i).standard_normal((n, 2)) for i, n in enumerate([2, 4, 1])]
    for side in ("right", "left"):
        a = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=7.0,
                                            padding_side=side)
        b = U.pad_sequence([nb.tensor(s) for s in seqs], batch_first=True, padding_value=7.0, padding_side=side)
        np.testing.assert_array_equal(b.data, a.numpy())
    a = torch.nn.utils.rnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=False)
    b = U.pack_sequence([nb.tensor(s) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(b.data.data, a.data.numpy())


def test_gradients_through_pack_and_pad():
    lengths = [2, 3, 1]

    def f(x):
        p = U.pack_padded_sequence(x, lengths, enforce_sorted=False)
        padded, _ = U.pad_packed_sequence(p, total_length=3)
        return padded * padded

    gradcheck(f, [nb.tensor(_x(T=3), requires_grad=True)])
    seqs = [nb.tensor(np.random.default_rng(i).standard_normal((n, 2)), requires_grad=True)
            for i, n in enumerate([2, 3])]
    gradcheck(lambda a, b: U.pad_sequence([a, b], padding_side="left") ** 2, seqs)


def test_unpad_and_unpack():
    seqs = [nb.tensor(np.random.default_rng(i).standard_normal((n, 2))) for i, n in enumerate([2, 4, 1])]
    padded = U.pad_sequence(seqs)
    for a, b in zip(U.unpad_sequence(padded, [2, 4, 1]), seqs):
        np.testing.assert_array_equal(a.data, b.data)
    for a, b in zip(U.unpack_sequence(U.pack_sequence(seqs, enforce_sorted=False)), seqs):
        np.testing.assert_array_equal(a.data, b.data)


def test_sequence_mask():
    m = U.sequence_mask([2, 0, 3])
    assert m.shape == (3, 3) and m.dtype == np.bool_
    assert m.data.tolist() == [[True, True, False], [False, False, False], [True, True, True]]
    assert U.sequence_mask(nb.tensor([1, 2]), max_len=4, dtype=np.float32, batch_first=False).data.tolist() == \
        [[1, 1], [0, 1], [0, 0], [0, 0]]


def test_detach_hidden_and_truncated_bptt():
    h = nb.randn(2, 3, requires_grad=True) * 2
    c = nb.randn(2, 3, requires_grad=True) * 2
    d = U.detach_hidden((h, [c, None]))
    assert isinstance(d, tuple) and isinstance(d[1], list)
    assert not d[0].requires_grad and not d[1][0].requires_grad and d[1][1] is None
    np.testing.assert_array_equal(d[0].data, h.data)
    assert U.detach_hidden(None) is None
    x, y = nb.randn(7, 2, 3), nb.randn(2, 7)
    chunks = list(U.truncated_bptt(x, y.T, chunk_size=3))
    assert [a.shape[0] for a, _ in chunks] == [3, 3, 1]
    np.testing.assert_array_equal(nb.cat([b for _, b in chunks], 0).data, y.T.data)
    batch_first = list(U.truncated_bptt(y, chunk_size=4, dim=1))
    assert [b.shape for b in batch_first] == [(2, 4), (2, 3)]


def test_errors():
    x = nb.tensor(_x())
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        U.pack_padded_sequence(x, [1, 3, 2])
    with pytest.raises(ValueError, match=r"lengths of shape \(3,\)"):
        U.pack_padded_sequence(x, [5, 3])
    with pytest.raises(ValueError, match="at least 1"):
        U.pack_padded_sequence(x, [5, 3, 0])
    with pytest.raises(ValueError, match="exceeds"):
        U.pack_padded_sequence(x, [6, 3, 1])
    with pytest.raises(TypeError, match="integers"):
        U.pack_padded_sequence(x, [5.5, 3, 1])
    p = U.pack_padded_sequence(x, [5, 3, 1])
    with pytest.raises(ValueError, match="total_length"):
        U.pad_packed_sequence(p, total_length=3)
    with pytest.raises(ValueError, match="sequence 1"):
        U.pad_sequence([nb.randn(2, 3), nb.randn(2, 4)])
    with pytest.raises(ValueError, match="chunk_size"):
        list(U.truncated_bptt(x, chunk_size=0))
    with pytest.raises(TypeError, match="detach_hidden"):
        U.detach_hidden(3)
