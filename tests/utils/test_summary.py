"""nabla.utils.summary: per-layer output shapes, parameters and multiply-accumulates with totals."""
import nabla as nb
import nabla.nn as nn
from nabla.utils import summary


def lenet5():
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def test_lenet5_table():
    lines = []
    s = summary(lenet5(), (1, 28, 28), print_fn=lines.append)
    assert s.total_params == s.trainable_params == 61_706
    # 28*28*6*25 + 10*10*16*150 + 400*120 + 120*84 + 84*10
    assert s.total_macs == 117_600 + 240_000 + 48_000 + 10_080 + 840
    shapes = [r.output_shape for r in s.rows]
    assert shapes[0] == (1, 6, 28, 28) and shapes[2] == (1, 6, 14, 14) and shapes[5] == (1, 16, 5, 5)
    assert s.output_shape == (1, 10)
    text = lines[0]
    assert "Conv2d" in text and "61,706" in text and "416,520" in text


def test_nested_modules_grouped_conv_transpose_and_modes_restored():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(4, 8, 3, padding=1, groups=2, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.up = nn.ConvTranspose2d(8, 4, 2, stride=2)

        def forward(self, x):
            return self.up(self.bn(self.conv(x)).relu())

    model = nn.Sequential(Block(), nn.Dropout(0.5))
    model.train()
    s = summary(model, (4, 5, 5), batch_size=2, print_fn=None)
    assert model.training  # restored after the eval-mode pass
    by_name = {r.name: r for r in s.rows}
    assert by_name["0.conv"].macs == 2 * 8 * 5 * 5 * 2 * 9
    assert by_name["0.up"].macs == 2 * 8 * 5 * 5 * 4 * 4
    assert by_name["0.up"].output_shape == (2, 4, 10, 10)
    assert by_name["0.bn"].params == 16
    assert s.total_params == sum(p.numel() for p in model.parameters())
    assert s.total_params - s.trainable_params == 0
    assert len(summary(model, (4, 5, 5), print_fn=None, depth=1).rows) == 2  # only the top level
    assert "Total MACs" in str(s)
